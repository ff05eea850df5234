//! Self-contained HTML reports (`hetsim report`): one page with the summary, sortable tables,
//! the standard plots inline as SVG, the scenario text and the versions, readable offline
//! (no script, style, font or image is fetched: everything is in the page).
//!
//! Inputs: a sweep directory (`results.csv`, `summary.json`, `manifest.json`; the scenario is
//! read from the path the manifest records) or the JSON file of `hetsim run --json` (its
//! `rows`, `summary`, `headline`, `numerics`, `warnings` and `scenario_text`). The plots are
//! drawn by [`crate::plot`] from the same CSV columns `hetsim plot` reads: the overhead
//! against t per strategy, one plot per integration time (of the whole model for a run; of
//! each point's recorded row for a sweep, one plot per swept axis values too, at most
//! 12), and (for a run) the
//! latency breakdown by operation of the lowest-overhead combination's first layer instance
//! with the most operations. A run with real weights adds its accuracy (a table and two plots).
//!
//! The page's script sorts a table by a column when its header is clicked (numerically when
//! both cells are numbers) and marks `body[data-ready]` when it has run, which the browser
//! test checks.

use crate::error::Error;
use crate::plot::{self, Kind, Spec, Table};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What a report page shows, gathered from a run's JSON or a sweep directory.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Scenario name (or the sweep directory's name).
    pub title: String,
    /// Where the data came from.
    pub source: PathBuf,
    /// The headline sentence, when the input has one.
    pub headline: Option<String>,
    /// Summary objects (one per integration time and strategy, or per sweep group).
    pub summary: Vec<Map<String, Value>>,
    /// Titled tables: headers and cells.
    pub tables: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
    /// Titled SVG plots.
    pub plots: Vec<(String, String)>,
    /// Numerics explanation.
    pub numerics: Option<String>,
    /// Warnings of the run, notes of the plots.
    pub notes: Vec<String>,
    /// The scenario file and its text (None when it could not be read, with why in `notes`).
    pub scenario: Option<(String, String)>,
    /// Name and version lines (hetsim, the cluster model, the input's format).
    pub versions: Vec<(String, String)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn data(path: &Path, message: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads `input` (a sweep directory or a `hetsim run --json` file) into a [`Page`].
pub fn load(input: &Path) -> Result<Page, Error> {
    if input.is_dir() {
        load_sweep(input)
    } else if input.is_file() {
        load_run(input)
    } else {
        Err(data(
            input,
            "no such file or directory (give a sweep directory or a `hetsim run --json` file)"
                .into(),
        ))
    }
}

/// The largest `hetsim run --json` report `hetsim report` reads: a run writes every operation
/// row of every combination (the main scenario: 60 combinations, about 76 MB pretty-printed).
pub const RUN_JSON_LIMIT: u64 = 1 << 30;

fn read_json(path: &Path, what: &str) -> Result<Value, Error> {
    read_json_limited(path, what, hetsim_models::diag::TEXT_LIMIT)
}

fn read_json_limited(path: &Path, what: &str, limit: u64) -> Result<Value, Error> {
    let text = hetsim_isa::input::read_limited_to_string(path, limit, what).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| {
        data(
            path,
            format!("line {}, column {}: not {what}: {e}", e.line(), e.column()),
        )
    })
}

/// A JSON value as a table cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format_number(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A float as a cell: at most 4 decimals, no trailing zeros.
fn format_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{f:.0}");
    }
    let s = format!("{f:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The summary objects with `params` (a sweep's axis values) flattened into their own keys,
/// and other nested objects (`parts`, the overhead's parts) into `parts.lora` and so on.
fn flatten_summary(v: &Value) -> Vec<Map<String, Value>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .map(|o| {
                    let mut m = Map::new();
                    for (k, v) in o {
                        match (k.as_str(), v) {
                            ("params", Value::Object(p)) => {
                                for (pk, pv) in p {
                                    m.insert(pk.clone(), pv.clone());
                                }
                            }
                            (_, Value::Object(p)) => {
                                for (pk, pv) in p {
                                    m.insert(format!("{k}.{pk}"), pv.clone());
                                }
                            }
                            _ => {
                                m.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    m
                })
                .collect()
        })
        .unwrap_or_default()
}

fn versions(input_kind: &str, cluster_model: Option<&str>) -> Vec<(String, String)> {
    let mut v = vec![
        ("hetsim".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("input".to_string(), input_kind.to_string()),
    ];
    if let Some(c) = cluster_model {
        v.push(("cluster model".to_string(), c.to_string()));
    }
    v
}

fn load_run(path: &Path) -> Result<Page, Error> {
    let v = read_json_limited(path, "a `hetsim run --json` report", RUN_JSON_LIMIT)?;
    let rows = v
        .get("rows")
        .and_then(Value::as_array)
        .filter(|_| v.get("scenario").is_some())
        .ok_or_else(|| {
            data(
                path,
                "not a `hetsim run --json` report (no `scenario` and `rows`)".into(),
            )
        })?;
    let columns = crate::report::row_columns();
    let table = Table {
        path: path.to_path_buf(),
        headers: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| r.get(c).map(cell).unwrap_or_default())
                    .collect()
            })
            .collect(),
        lines: (1..=rows.len() as u64).collect(),
        skipped: 0,
    };
    let name = v.get("scenario").map(cell).unwrap_or_default();
    let mut page = Page {
        title: name,
        source: path.to_path_buf(),
        headline: v.get("headline").and_then(Value::as_str).map(String::from),
        summary: v.get("summary").map(flatten_summary).unwrap_or_default(),
        numerics: v.get("numerics").and_then(Value::as_str).map(String::from),
        versions: versions(
            "hetsim run --json",
            v.get("cluster_model").and_then(Value::as_str),
        ),
        ..Page::default()
    };
    if let Some(w) = v.get("warnings").and_then(Value::as_array) {
        page.notes.extend(w.iter().map(cell));
    }
    page.scenario = match (
        v.get("scenario_path").and_then(Value::as_str),
        v.get("scenario_text").and_then(Value::as_str),
    ) {
        (Some(p), Some(t)) => Some((p.to_string(), t.to_string())),
        _ => {
            page.notes
                .push("the JSON holds no scenario text (written by an older hetsim)".into());
            None
        }
    };
    for (scope, title) in [("model", "Whole-model rows"), ("layer", "Layer rows")] {
        let mut t = table.clone();
        t.filter(&[format!("scope={scope}")])?;
        page.tables
            .push((title.to_string(), t.headers.clone(), t.rows.clone()));
    }
    overhead_plots(&mut page, &table, Some("model"), &[])?;
    accuracy_section(&mut page, path, &v)?;
    pareto_plots(&mut page, &table)?;
    // The latency breakdown by operation of the best combination's first layer instance with
    // the most operations (e.g. `encoder.layer.0`, not a one-operation embedding).
    if let Some(best) = best_of(&page.summary) {
        // Per layer instance, the hybrid's and the baseline's latency parts (crate::split).
        let layers = vec![
            "scope=layer".to_string(),
            format!("strategy={}", best.0),
            format!("integration_time_ns={}", best.1),
            format!("tokens_per_batch={}", best.2),
        ];
        for (who, y) in [
            ("hybrid", crate::plot::STACKED_PARTS),
            (
                "pure-AIMC baseline",
                "baseline_static_ns,baseline_dynamic_ns,baseline_link_ns,baseline_wait_ns",
            ),
        ] {
            let title = format!(
                "Where the time goes per layer instance, {who}: {}, {} ns, t = {}",
                best.0, best.1, best.2
            );
            let svg = draw(
                &table,
                Kind::Stacked,
                Some("layer"),
                Some(y),
                None,
                layers.clone(),
                &title,
                &mut page.notes,
            )?;
            page.plots.push((title, svg));
        }
        let mut ops = table.clone();
        ops.filter(&[
            "scope=op".to_string(),
            format!("strategy={}", best.0),
            format!("integration_time_ns={}", best.1),
            format!("tokens_per_batch={}", best.2),
        ])?;
        let li = ops.column("layer")?;
        let mut counts: Vec<(String, usize)> = Vec::new();
        for r in &ops.rows {
            match counts.iter_mut().find(|(l, _)| *l == r[li]) {
                Some((_, n)) => *n += 1,
                None => counts.push((r[li].clone(), 1)),
            }
        }
        let most = counts.iter().map(|c| c.1).max().unwrap_or(0);
        if let Some(first) = counts.into_iter().find(|c| c.1 == most).map(|c| c.0) {
            let filters = vec![
                "scope=op".to_string(),
                format!("layer={first}"),
                format!("strategy={}", best.0),
                format!("integration_time_ns={}", best.1),
                format!("tokens_per_batch={}", best.2),
            ];
            let title = format!(
                "Latency breakdown of {first} by operation: {}, {} ns, t = {}",
                best.0, best.1, best.2
            );
            page.plots.push((
                title.clone(),
                draw(
                    &table,
                    Kind::Stacked,
                    Some("op"),
                    None,
                    None,
                    filters,
                    &title,
                    &mut page.notes,
                )?,
            ));
        }
    }
    Ok(page)
}

/// The accuracy of a run with real weights (its JSON's `accuracy`, docs/accuracy.md): a table
/// with one row per inference time and drift-compensation setting (the embeddings' cosine
/// similarity and each layer's error, as `hetsim run` prints it) and the two plots the docs
/// draw from `--accuracy-csv`: the mean cosine similarity against the inference time per
/// compensation setting, and each layer's error against it (with global compensation when the
/// run has it, else the first setting).
fn accuracy_section(page: &mut Page, path: &Path, v: &Value) -> Result<(), Error> {
    let Some(a) = v.get("accuracy").filter(|a| !a.is_null()) else {
        return Ok(());
    };
    let acc: crate::accuracy::AccuracyResult = serde_json::from_value(a.clone()).map_err(|e| {
        data(
            path,
            format!("its `accuracy` is not an accuracy result: {e}"),
        )
    })?;
    let short = |n: &str| n.strip_prefix("encoder.layer.").unwrap_or(n).to_string();
    let mut headers: Vec<String> = ["t_inf", "drift compensation", "cos mean", "cos min"]
        .map(String::from)
        .into();
    headers.push("worst sentence".into());
    headers.extend(acc.layers.iter().map(|l| format!("err {}", short(l))));
    let rows: Vec<Vec<String>> = acc
        .points
        .iter()
        .map(|p| {
            let mut r = vec![
                crate::accuracy::time_label(p.t_inf_s),
                p.drift_compensation.clone(),
                format!("{:.5}", p.cosine_mean),
                format!("{:.5}", p.cosine_min),
                p.worst_sentence.to_string(),
            ];
            r.extend(p.layer_err.iter().map(|e| format!("{e:.4}")));
            r
        })
        .collect();
    page.tables.push((
        format!(
            "Accuracy of {} on {} sentence(s) against the f32 reference",
            acc.checkpoint, acc.sentences
        ),
        headers,
        rows,
    ));
    // The plots read the rows `--accuracy-csv` writes.
    let text = acc.csv()?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let bad = |e: csv::Error| data(path, format!("accuracy rows: {e}"));
    let headers = reader
        .headers()
        .map_err(bad)?
        .iter()
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for r in reader.records() {
        rows.push(r.map_err(bad)?.iter().map(String::from).collect());
    }
    let table = Table {
        path: path.with_extension("accuracy.csv"),
        headers,
        lines: (1..=rows.len() as u64).collect(),
        rows,
        skipped: 0,
    };
    let title = "Sentence-embedding cosine similarity against inference time".to_string();
    let svg = draw(
        &table,
        Kind::Line,
        Some("t_inf"),
        Some("cosine_mean"),
        Some("drift_compensation"),
        vec!["scope=model".into()],
        &title,
        &mut page.notes,
    )?;
    page.plots.push((title, svg));
    let comp = acc
        .points
        .iter()
        .map(|p| p.drift_compensation.as_str())
        .find(|c| *c == "Global")
        .or_else(|| acc.points.first().map(|p| p.drift_compensation.as_str()));
    if let Some(comp) = comp {
        let title = format!(
            "Each layer's relative error against inference time, {comp} drift compensation"
        );
        let svg = draw(
            &table,
            Kind::Line,
            Some("t_inf"),
            Some("rel_err"),
            Some("layer"),
            vec!["scope=layer".into(), format!("drift_compensation={comp}")],
            &title,
            &mut page.notes,
        )?;
        page.plots.push((title, svg));
    }
    Ok(())
}

/// The summary entry with the lowest overhead: (strategy, integration time, t).
fn best_of(summary: &[Map<String, Value>]) -> Option<(String, String, String)> {
    summary
        .iter()
        .filter_map(|m| {
            let o = m.get("overhead").and_then(Value::as_f64)?;
            Some((
                o,
                (
                    m.get("strategy").map(cell)?,
                    m.get("integration_time_ns").map(cell)?,
                    m.get("tokens_per_batch").map(cell)?,
                ),
            ))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Most overhead plots on one page (combinations of swept values and integration time).
const MAX_OVERHEAD_PLOTS: usize = 12;

/// One plot per swept axis values and integration time of the overhead against t, a line per
/// strategy: of the
/// whole model for a run (`scope` `Some("model")`), of each point's recorded row for a sweep
/// (`None`).
fn overhead_plots(
    page: &mut Page,
    table: &Table,
    scope: Option<&str>,
    axes: &[String],
) -> Result<(), Error> {
    let scoped: Vec<String> = scope.map(|s| format!("scope={s}")).into_iter().collect();
    let mut model = table.clone();
    model.filter(&scoped)?;
    // one plot per (swept axis values, integration time), in row order
    let mut cols: Vec<(String, usize)> = Vec::new();
    for a in axes {
        cols.push((a.clone(), model.column(a)?));
    }
    cols.push((
        "integration_time_ns".into(),
        model.column("integration_time_ns")?,
    ));
    let mut keys: Vec<Vec<String>> = Vec::new();
    for r in &model.rows {
        let k: Vec<String> = cols.iter().map(|(_, i)| r[*i].clone()).collect();
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if keys.len() > MAX_OVERHEAD_PLOTS {
        page.notes.push(format!(
            "the first {MAX_OVERHEAD_PLOTS} of {} combinations of swept values and integration \
             time are plotted; `hetsim plot --filter` draws the others",
            keys.len()
        ));
        keys.truncate(MAX_OVERHEAD_PLOTS);
    }
    let what = if scope == Some("model") {
        "Whole-model overhead"
    } else {
        "Overhead"
    };
    for key in keys {
        let (t, axis_values) = key
            .split_last()
            .map_or((String::new(), &[][..]), |(t, a)| (t.clone(), a));
        let mut title = format!("{what} against t at {t} ns integration time");
        let mut filters = scoped.clone();
        for ((name, _), v) in cols.iter().zip(axis_values) {
            title.push_str(&format!(", {name} = {v}"));
            filters.push(format!("{name}={v}"));
        }
        filters.push(format!("integration_time_ns={t}"));
        let svg = draw(
            table,
            Kind::Line,
            Some("tokens_per_batch"),
            Some("overhead"),
            Some("strategy"),
            filters,
            &title,
            &mut page.notes,
        )?;
        page.plots.push((title, svg));
    }
    Ok(())
}

/// One energy-against-latency plot (the Pareto view, docs/energy.md) per integration time of a
/// run's model rows, a line per strategy through its t, and one area-against-latency plot when
/// the strategies' areas differ (MultiCluster); none for a JSON without energies (written by an
/// older hetsim).
fn pareto_plots(page: &mut Page, table: &Table) -> Result<(), Error> {
    let mut model = table.clone();
    model.filter(&["scope=model".to_string()])?;
    let (Ok(_), Ok(it)) = (
        model.column("energy_j"),
        model.column("integration_time_ns"),
    ) else {
        return Ok(());
    };
    let mut times: Vec<String> = Vec::new();
    for r in &model.rows {
        if !times.contains(&r[it]) {
            times.push(r[it].clone());
        }
    }
    // a line per strategy through its t, at integration time `t`
    let mut against_latency = |y: &str, what: &str, t: &str| -> Result<(), Error> {
        let title = format!("{what} against latency at {t} ns integration time (a point per t)");
        let svg = draw(
            table,
            Kind::Line,
            Some("hybrid_ns"),
            Some(y),
            Some("strategy"),
            vec!["scope=model".into(), format!("integration_time_ns={t}")],
            &title,
            &mut page.notes,
        )?;
        page.plots.push((title, svg));
        Ok(())
    };
    for t in times.iter().take(MAX_OVERHEAD_PLOTS) {
        against_latency("energy_j", "Energy", t)?;
    }
    // What extra clusters (MultiCluster) buy: area against latency at the first integration
    // time, drawn only when the strategies' areas differ.
    let Ok(area) = model.column("area_mm2") else {
        return Ok(());
    };
    let mut areas: Vec<&str> = model.rows.iter().map(|r| r[area].as_str()).collect();
    areas.sort_unstable();
    areas.dedup();
    if let (true, Some(t)) = (areas.len() > 1, times.first()) {
        against_latency("area_mm2", "Area", t)?;
    }
    Ok(())
}

/// Draws one plot of `table` into SVG text (notes of the drawing go to `notes`).
#[allow(clippy::too_many_arguments)]
fn draw(
    table: &Table,
    kind: Kind,
    x: Option<&str>,
    y: Option<&str>,
    series: Option<&str>,
    filters: Vec<String>,
    title: &str,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    let spec = Spec {
        input: table.path.clone(),
        x: x.map(String::from),
        y: y.map(String::from),
        series: series.map(String::from),
        filters,
        kind,
        x_scale: Default::default(),
        y_scale: Default::default(),
        out: table.path.with_extension("svg"),
        title: Some(title.to_string()),
    };
    let (svg, drawn) = plot::svg(&spec, table.clone())?;
    notes.extend(drawn.notes.iter().map(|n| format!("{title}: {n}")));
    // inline: drop an XML declaration if the backend wrote one
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

fn load_sweep(dir: &Path) -> Result<Page, Error> {
    let results = dir.join("results.csv");
    if !results.is_file() {
        return Err(data(
            dir,
            "not a sweep directory (no results.csv; give the --out directory of `hetsim \
             sweep` or a `hetsim run --json` file)"
                .into(),
        ));
    }
    let table = Table::read(&results)?;
    let manifest = read_json(&dir.join("manifest.json"), "a sweep manifest").ok();
    let summary = read_json(&dir.join("summary.json"), "a sweep summary").ok();
    let title = dir
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
    let mut page = Page {
        title: format!("sweep {title}"),
        source: dir.to_path_buf(),
        summary: summary.as_ref().map(flatten_summary).unwrap_or_default(),
        versions: versions("hetsim sweep directory", None),
        ..Page::default()
    };
    if summary.is_none() {
        page.notes
            .push("no summary.json (the sweep has not finished): the summary is empty".into());
    }
    if table.skipped > 0 {
        page.notes.push(format!(
            "{} point(s) did not finish (status not ok) and are left out",
            table.skipped
        ));
    }
    let scenario_path = manifest
        .as_ref()
        .and_then(|m| m.get("scenario"))
        .and_then(Value::as_str)
        .map(PathBuf::from);
    page.scenario = match &scenario_path {
        Some(p) => match hetsim_models::diag::read_text(p, "a scenario") {
            Ok(text) => Some((p.display().to_string(), text)),
            Err(e) => {
                page.notes
                    .push(format!("scenario {} not shown: {e}", p.display()));
                None
            }
        },
        None => {
            page.notes
                .push("no manifest.json naming the scenario: it is not shown".into());
            None
        }
    };
    page.tables.push((
        "Points".to_string(),
        table.headers.clone(),
        table.rows.clone(),
    ));
    if table.column("integration_time_ns").is_ok() && !table.rows.is_empty() {
        let axes: Vec<String> = manifest
            .as_ref()
            .and_then(|m| m.get("axes"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        overhead_plots(&mut page, &table, None, &axes)?;
    }
    Ok(page)
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#111;max-width:1400px}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}\
th,td{border:1px solid #bbb;padding:.2em .5em;text-align:right;white-space:nowrap}\
th{background:#1f4e79;color:#fff;cursor:pointer;position:sticky;top:0}\
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}\
td:first-child,th:first-child{text-align:left}\
.scroll{max-height:32em;overflow:auto;display:inline-block}\
.headline{font-size:1.1em;background:#eef4fa;padding:.6em;border-left:4px solid #1f4e79}\
figure{display:inline-block;margin:.5em;vertical-align:top}figure svg{width:640px;height:auto}figcaption{font-size:.85em}\
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.8em}.meta{color:#555}";

const SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(t){\
var hs=t.tHead?t.tHead.rows[0].cells:[];\
Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){\
var b=t.tBodies[0];var rows=Array.prototype.slice.call(b.rows);\
var asc=th.getAttribute('aria-sort')!=='ascending';\
Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});\
th.setAttribute('aria-sort',asc?'ascending':'descending');\
rows.sort(function(p,q){var x=p.cells[i].textContent,y=q.cells[i].textContent;\
var nx=parseFloat(x),ny=parseFloat(y);\
var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});\
rows.forEach(function(r){b.appendChild(r);});});});});\
document.body.setAttribute('data-ready','yes');";

fn table_html(id: &str, headers: &[String], rows: &[Vec<String>]) -> String {
    let mut h = format!("<div class=\"scroll\"><table class=\"sortable\" id=\"{id}\"><thead><tr>");
    for c in headers {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead><tbody>");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{}</td>", escape(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    h
}

/// The page as one HTML document.
pub fn render(page: &Page) -> String {
    let mut h = String::new();
    let title = escape(&page.title);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>hetsim report: {title}</title><style>{STYLE}</style></head><body>\
         <h1>hetsim report: {title}</h1><p class=\"meta\">from {}</p>",
        escape(&page.source.display().to_string())
    );
    h.push_str("<section id=\"summary\"><h2>Summary</h2>");
    if let Some(l) = &page.headline {
        let _ = write!(h, "<p class=\"headline\">{}</p>", escape(l));
    }
    let mut keys: Vec<String> = Vec::new();
    for m in &page.summary {
        for k in m.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    // a sweep's axis values first (alphabetical), then the known columns in this order
    const ORDER: [&str; 9] = [
        "integration_time_ns",
        "strategy",
        "tokens_per_batch",
        "overhead",
        "worst_layer",
        "worst_layer_overhead",
        "bound",
        "hybrid_ns",
        "point",
    ];
    keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).map_or(0, |i| i + 1));
    if keys.is_empty() {
        h.push_str("<p>No summary.</p>");
    } else {
        let rows: Vec<Vec<String>> = page
            .summary
            .iter()
            .map(|m| {
                keys.iter()
                    .map(|k| m.get(k).map(cell).unwrap_or_default())
                    .collect()
            })
            .collect();
        h.push_str(&table_html("summary-table", &keys, &rows));
    }
    h.push_str("</section><section id=\"plots\"><h2>Plots</h2>");
    for (caption, svg) in &page.plots {
        let _ = write!(
            h,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            escape(caption)
        );
    }
    h.push_str("</section>");
    for (i, (name, headers, rows)) in page.tables.iter().enumerate() {
        let _ = write!(
            h,
            "<section><h2>{} ({} rows; click a header to sort)</h2>{}</section>",
            escape(name),
            rows.len(),
            table_html(&format!("table-{i}"), headers, rows)
        );
    }
    if let Some(n) = &page.numerics {
        let _ = write!(
            h,
            "<section id=\"numerics\"><h2>Numerics</h2><p>{}</p></section>",
            escape(n)
        );
    }
    if !page.notes.is_empty() {
        h.push_str("<section id=\"notes\"><h2>Notes and warnings</h2><ul>");
        for n in &page.notes {
            let _ = write!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul></section>");
    }
    h.push_str("<section id=\"scenario\"><h2>Scenario</h2>");
    match &page.scenario {
        Some((p, text)) => {
            let _ = write!(
                h,
                "<p class=\"meta\">{}</p><pre>{}</pre>",
                escape(p),
                escape(text)
            );
        }
        None => h.push_str("<p>Not available (see the notes).</p>"),
    }
    h.push_str("</section><section id=\"versions\"><h2>Versions</h2><table><tbody>");
    for (k, v) in &page.versions {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(v));
    }
    let _ = writeln!(
        h,
        "</tbody></table></section><script>{SCRIPT}</script></body></html>"
    );
    h
}

/// What [`write()`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The page file.
    pub out: PathBuf,
    /// Plots on the page.
    pub plots: usize,
    /// Table rows on the page (summary excluded).
    pub rows: usize,
    /// Its size in bytes.
    pub bytes: usize,
}

/// Reads `input`, renders the page and writes it to `out`.
pub fn write(input: &Path, out: &Path) -> Result<Written, Error> {
    let page = load(input)?;
    let html = render(&page);
    std::fs::write(out, &html).map_err(io(out))?;
    Ok(Written {
        out: out.to_path_buf(),
        plots: page.plots.len(),
        rows: page.tables.iter().map(|t| t.2.len()).sum(),
        bytes: html.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn numbers_are_shown_short() {
        assert_eq!(format_number(128.0), "128");
        assert_eq!(format_number(1.0394999), "1.0395");
        assert_eq!(format_number(0.5), "0.5");
    }

    #[test]
    fn a_run_with_real_weights_shows_its_accuracy() {
        use crate::accuracy::{AccuracyPoint, AccuracyResult};
        let point = |t: f64, comp: &str, cos: f64| AccuracyPoint {
            t_inf_s: t,
            drift_compensation: comp.into(),
            layer_err: vec![0.01 * cos, 0.02 * cos],
            cosine_mean: cos,
            cosine_min: cos - 0.1,
            worst_sentence: 3,
        };
        let year = 365.0 * 86400.0;
        let acc = AccuracyResult {
            checkpoint: "ckpt".into(),
            sentences: 4,
            seq_len: 16,
            tokens: 40,
            layers: vec!["encoder.layer.0".into(), "encoder.layer.1".into()],
            points: vec![
                point(0.0, "Off", 0.9),
                point(year, "Off", 0.4),
                point(0.0, "Global", 0.9),
                point(year, "Global", 0.75),
            ],
        };
        let v = serde_json::json!({ "accuracy": acc });
        let mut page = Page::default();
        accuracy_section(&mut page, Path::new("run.json"), &v).unwrap();
        let (title, headers, rows) = &page.tables[0];
        assert!(title.contains("ckpt on 4 sentence(s)"), "{title}");
        assert_eq!(headers[5..], ["err 0", "err 1"]);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1][..4], ["1 y", "Off", "0.40000", "0.30000"]);
        assert_eq!(rows[3][6], "0.0150");
        // the cosine per compensation setting, and the layers with global compensation
        assert_eq!(page.plots.len(), 2);
        assert!(page.plots[1].0.ends_with("Global drift compensation"));
        for (t, svg) in &page.plots {
            assert!(svg.starts_with("<svg"), "{t}");
        }
        assert!(page.notes.is_empty(), "{:?}", page.notes);
        // without accuracy nothing is added; a malformed one is a named error
        let mut empty = Page::default();
        accuracy_section(&mut empty, Path::new("run.json"), &serde_json::json!({})).unwrap();
        assert!(empty.tables.is_empty() && empty.plots.is_empty());
        let bad = serde_json::json!({ "accuracy": { "points": 3 } });
        let e = accuracy_section(&mut empty, Path::new("run.json"), &bad).unwrap_err();
        assert!(
            e.to_string().contains("run.json") && e.to_string().contains("accuracy"),
            "{e}"
        );
    }

    #[test]
    fn summary_params_become_columns() {
        let v: Value = serde_json::from_str(
            r#"[{"params": {"hardware.tile.rows": 256}, "strategy": "pipelined", "overhead": 1.5}]"#,
        )
        .unwrap();
        let s = flatten_summary(&v);
        assert_eq!(
            s[0].keys().cloned().collect::<Vec<_>>(),
            ["hardware.tile.rows", "overhead", "strategy"]
        );
        assert_eq!(
            best_of(&[serde_json::from_str(
                r#"{"strategy": "p", "integration_time_ns": 128.0, "tokens_per_batch": 8, "overhead": 1.1}"#
            )
            .unwrap()]),
            Some(("p".into(), "128".into(), "8".into()))
        );
    }
}
