//! Sweeps: expand a scenario's axes into points, run them in parallel, and keep results safe.
//!
//! Points are the Cartesian product of the scenario's `sweep.axes` (first axis slowest) and,
//! for each axes assignment, its strategy x integration time x t combinations. A point's index
//! is its position in that order; its id is a 64-bit FNV-1a hash of the scenario text and the
//! point's parameter values, so it is stable across runs, machines and thread counts.
//!
//! Results go to `DIR/results.jsonl` and `DIR/results.csv`, one row per point, appended and
//! flushed to disk (`fsync`) as each point finishes. A row is written whole or not at all: when
//! a write or sync fails (a full disk), the partial line is cut off again, no further row is
//! written, the running points stop, and the error names the file and says how many finished
//! points are kept. A killed sweep restarted with the same command reads the JSONL (dropping a
//! torn or unreadable line, e.g. after a SIGKILL in the middle of a write), skips finished
//! points (a failed point is finished too: its row carries the error), runs the rest, and
//! finally rewrites both files sorted by point index (write to `NAME.tmp`, then rename; a
//! failed rewrite removes the temporary file and leaves the old file as it was), so the final
//! files are the same bytes as an uninterrupted run's, whatever the thread count. `DIR/manifest.json`
//! records the scenario hash, the number of points and the shard, and guards against mixing
//! sweeps in one directory. `--shard I/N` runs the points whose index is I modulo N;
//! [`merge`] combines shard directories and checks that every point is there exactly once.

use crate::error::Error;
use crate::fnv;
use crate::report::{row_columns, Row};
use crate::run;
use crate::scenario::{self, AxisValue, AxisValues, Combination, Loaded, Record};
use hetsim_isa::input::read_limited;
use hetsim_models::diag::read_text;
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by `hetsim sweep`'s Ctrl-C handler: no further point starts, the running ones finish
/// and are written, `results.csv` is rebuilt, and [`sweep`] returns [`Error::Interrupted`].
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
use std::sync::Mutex;

/// One point of a sweep.
#[derive(Debug, Clone)]
pub struct Point {
    /// Position in the sweep's order.
    pub index: usize,
    /// Stable id (16 hex digits).
    pub id: String,
    /// Which axes assignment (group) it belongs to.
    pub group: usize,
    /// The axis values, by path.
    pub params: Vec<(String, Value)>,
    /// The strategy/integration-time/t combination.
    pub combination: Combination,
}

/// A sweep: its points and the scenario variant of each group.
pub struct Plan {
    /// The scenario file.
    pub path: PathBuf,
    /// FNV-1a of the scenario file's text.
    pub scenario_hash: u64,
    /// Axis paths (the parameter columns).
    pub axis_paths: Vec<String>,
    /// One loaded scenario per axes assignment.
    pub groups: Vec<Loaded>,
    /// For each group, the group whose numerics evaluation it uses: the first group with the
    /// same numerics inputs ([`numerics_key`]), so an axis the numerics do not read (the
    /// interconnect, the energy constants, ...) evaluates them once for all its values.
    pub numerics_of: Vec<usize>,
    /// Every point.
    pub points: Vec<Point>,
    /// Which row to record.
    pub record: Record,
}

fn axis_value(v: &AxisValue) -> Value {
    match v {
        AxisValue::Int(i) => json!(i),
        AxisValue::Float(f) => json!(f),
        AxisValue::Bool(b) => json!(b),
        AxisValue::Text(s) => json!(s),
    }
}

/// The most values one `Range` axis may take.
pub const MAX_RANGE_VALUES: usize = 100_000;
/// The most points one sweep may have (all axes' values times the combinations).
pub const MAX_POINTS: usize = 1_000_000;

/// The values of an axis; a `Range` must have a finite start and end, a positive step and at
/// most [`MAX_RANGE_VALUES`] values.
fn expand(values: &AxisValues) -> Result<Vec<Value>, String> {
    match values {
        AxisValues::List(v) => Ok(v.iter().map(axis_value).collect()),
        AxisValues::Range(from, to, step) => {
            if !(from.is_finite() && to.is_finite() && step.is_finite() && *step > 0.0) {
                return Err(format!(
                    "Range({from}, {to}, {step}) needs a finite start and end and a step > 0"
                ));
            }
            let mut out = Vec::new();
            let mut k = 0u32;
            loop {
                let x = from + f64::from(k) * step;
                if x > to + 1e-9 {
                    break;
                }
                if out.len() == MAX_RANGE_VALUES {
                    return Err(format!(
                        "Range({from}, {to}, {step}) has more than {MAX_RANGE_VALUES} values"
                    ));
                }
                out.push(json!(x));
                k += 1;
            }
            Ok(out)
        }
    }
}

/// Sets `path` (dotted) in `root` to `value`; errors name the first missing segment.
fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut cur = root;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let present = match &*cur {
            Value::Object(m) => m.contains_key(*seg),
            Value::Array(a) => seg.parse::<usize>().is_ok_and(|k| k < a.len()),
            _ => false,
        };
        if !present {
            let here = segs[..i].join(".");
            let keys = match &*cur {
                Value::Object(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
                _ => "(not a structure)".into(),
            };
            return Err(format!(
                "`{seg}` is not a field of `{}`; it has: {keys}",
                if here.is_empty() {
                    "the scenario"
                } else {
                    &here
                }
            ));
        }
        let next = match cur {
            Value::Object(m) => m.get_mut(*seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|k| a.get_mut(k)),
            _ => None,
        };
        let Some(next) = next else {
            return Err(format!("`{seg}` cannot be reached"));
        };
        if last {
            *next = value;
            return Ok(());
        }
        cur = next;
    }
    Ok(())
}

fn canonical(params: &[(String, Value)], c: &Combination) -> String {
    let mut s = String::new();
    for (p, v) in params {
        s.push_str(p);
        s.push('=');
        s.push_str(&v.to_string());
        s.push(';');
    }
    s.push_str(&format!(
        "strategy={};integration_time_ns={};tokens_per_batch={}",
        c.strategy.name(),
        c.integration_time_ns,
        c.tokens_per_batch
    ));
    s
}

/// Loads a scenario and expands its sweep into points.
pub fn plan(path: &Path) -> Result<Plan, Error> {
    let text = read_text(path, "a scenario").map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base = scenario::load_str(path, &text)?;
    let scenario_hash = fnv::hash(text.as_bytes());
    let axes = base.scenario.sweep.axes.clone();
    let record = base.scenario.sweep.record.clone();
    let axis_paths: Vec<String> = axes.iter().map(|a| a.path.clone()).collect();
    let axis_err = |a: &scenario::Axis, message: String, hint: &str| Error::Scenario {
        path: path.to_path_buf(),
        field: format!("sweep.axes[{}].values", a.path),
        message,
        hint: hint.into(),
    };
    let mut axis_values: Vec<Vec<Value>> = Vec::new();
    for a in &axes {
        let v = expand(&a.values).map_err(|m| {
            axis_err(
                a,
                m,
                "give Range(from, to, step) with a positive step, or list the values",
            )
        })?;
        if v.is_empty() {
            return Err(axis_err(
                a,
                "the axis has no values".into(),
                "list at least one value, or a Range(from, to, step) with from <= to",
            ));
        }
        axis_values.push(v);
    }
    let points = axis_values
        .iter()
        .try_fold(base.combinations().len(), |n, v| n.checked_mul(v.len()))
        .filter(|&n| n <= MAX_POINTS);
    if points.is_none() {
        return Err(Error::Scenario {
            path: path.to_path_buf(),
            field: "sweep.axes".into(),
            message: format!(
                "the axes and combinations make more than {MAX_POINTS} points ({})",
                axis_values
                    .iter()
                    .map(|v| v.len().to_string())
                    .chain([base.combinations().len().to_string()])
                    .collect::<Vec<_>>()
                    .join(" x ")
            ),
            hint: "split the sweep into several scenarios, or use fewer values".into(),
        });
    }
    // Every assignment of the axes (first axis slowest).
    let mut assignments: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (p, vals) in axis_paths.iter().zip(&axis_values) {
        let mut next = Vec::new();
        for a in &assignments {
            for v in vals {
                let mut b = a.clone();
                b.push((p.clone(), v.clone()));
                next.push(b);
            }
        }
        assignments = next;
    }
    let mut groups = Vec::new();
    let mut points = Vec::new();
    let mut numerics_of = Vec::new();
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for (g, params) in assignments.iter().enumerate() {
        let loaded = if params.is_empty() {
            base.clone()
        } else {
            let mut v = serde_json::to_value(&base.scenario)
                .map_err(|e| Error::Sweep(format!("internal: scenario to JSON: {e}")))?;
            for (p, val) in params {
                set_path(&mut v, p, val.clone()).map_err(|message| Error::Scenario {
                    path: path.to_path_buf(),
                    field: format!("sweep.axes path `{p}`"),
                    message,
                    hint: "paths follow the RON structure; enum variants are segments, e.g. \
                           workload.lora.Rank.rank"
                        .into(),
                })?;
            }
            let sc: scenario::Scenario =
                serde_json::from_value(v).map_err(|e| Error::Scenario {
                    path: path.to_path_buf(),
                    field: "sweep.axes".into(),
                    message: format!("{e}"),
                    hint: "an axis value does not have the field's type".into(),
                })?;
            let ron_text = ron::ser::to_string(&sc)
                .map_err(|e| Error::Sweep(format!("internal: scenario to RON: {e}")))?;
            scenario::load_str(path, &ron_text)?
        };
        for combination in loaded.combinations() {
            let key = canonical(params, &combination);
            let id = format!("{:016x}", fnv::fnv1a(scenario_hash, key.as_bytes()));
            points.push(Point {
                index: points.len(),
                id,
                group: g,
                params: params.clone(),
                combination,
            });
        }
        numerics_of.push(*keys.entry(numerics_key(&loaded)?).or_insert(g));
        groups.push(loaded);
    }
    Ok(Plan {
        path: path.to_path_buf(),
        scenario_hash,
        axis_paths,
        groups,
        numerics_of,
        points,
        record,
    })
}

fn pick<'a>(rows: &'a [Row], record: &Record) -> Option<&'a Row> {
    match record {
        Record::Model => rows.iter().find(|r| r.scope == "model"),
        Record::Op(name) => rows.iter().find(|r| r.scope == "op" && &r.op == name),
    }
}

/// The result record of one point (one JSONL line).
fn record_json(p: &Point, outcome: Result<Row, String>) -> Value {
    let mut m = Map::new();
    m.insert("point".into(), json!(p.index));
    m.insert("point_id".into(), json!(p.id));
    let params: Map<String, Value> = p.params.iter().cloned().collect();
    match outcome {
        Ok(row) => {
            m.insert("status".into(), json!("ok"));
            m.insert("error".into(), Value::Null);
            m.insert("params".into(), Value::Object(params));
            m.insert(
                "row".into(),
                serde_json::to_value(&row).unwrap_or(Value::Null),
            );
        }
        Err(e) => {
            m.insert("status".into(), json!("error"));
            m.insert("error".into(), json!(e));
            m.insert("params".into(), Value::Object(params));
            let c = &p.combination;
            m.insert(
                "row".into(),
                json!({
                    "strategy": c.strategy.name(),
                    "integration_time_ns": c.integration_time_ns,
                    "tokens_per_batch": c.tokens_per_batch,
                }),
            );
        }
    }
    Value::Object(m)
}

fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The CSV header for a sweep with these axis paths.
pub fn csv_header(axis_paths: &[String]) -> String {
    let mut cols: Vec<String> = ["point", "point_id", "status", "error"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cols.extend(axis_paths.iter().cloned());
    cols.extend(row_columns().iter().cloned());
    cols.iter()
        .map(|c| csv_field(&json!(c)))
        .collect::<Vec<_>>()
        .join(",")
}

/// One CSV line of a record.
pub fn csv_line(rec: &Value, axis_paths: &[String]) -> String {
    let get = |k: &str| rec.get(k).cloned().unwrap_or(Value::Null);
    let mut f = vec![get("point"), get("point_id"), get("status"), get("error")];
    for p in axis_paths {
        f.push(
            rec.get("params")
                .and_then(|m| m.get(p))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    for c in row_columns() {
        f.push(
            rec.get("row")
                .and_then(|m| m.get(c))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    f.iter().map(csv_field).collect::<Vec<_>>().join(",")
}

/// What `DIR/manifest.json` holds.
fn manifest(plan: &Plan, shard: Option<(usize, usize)>) -> Value {
    json!({
        "scenario": plan.path.display().to_string(),
        "scenario_hash": format!("{:016x}", plan.scenario_hash),
        "points": plan.points.len(),
        "shard": shard.map(|(i, n)| json!([i, n])),
        "axes": plan.axis_paths,
    })
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// A failed write of a sweep's files, with how many finished points `results.jsonl` keeps.
fn write_err(path: &Path, source: std::io::Error, kept: usize) -> Error {
    Error::SweepWrite {
        path: path.to_path_buf(),
        source,
        kept,
    }
}

/// The complete records of a JSONL stream and the number of lines dropped: a last line without
/// its newline (a write cut short) and any line that is not a JSON record with a `point`.
fn parse_records(reader: impl BufRead) -> std::io::Result<(Vec<Value>, usize)> {
    let mut out = Vec::new();
    let mut dropped = 0;
    for line in reader.split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) if v.get("point").and_then(Value::as_u64).is_some() => out.push(v),
            _ => dropped += 1,
        }
    }
    Ok((out, dropped))
}

/// The largest results file a sweep reads back on resume (and `merge` and `plot` read): 2 GiB,
/// the 1,000,000 points a sweep may have (see [`MAX_POINTS`]) at 2 KiB a row, about four times
/// the rows of the shipped scenarios (550 bytes in JSONL, 240 in CSV). A larger or endless
/// file (`/dev/zero` linked in its place) is refused, naming the file and the limit.
pub const RESULTS_LIMIT: u64 = 2 << 30;

/// Reads the complete records of a JSONL file (none when it does not exist); torn and
/// unreadable lines are dropped with a warning, and the file is left as it is (a sweep rewrites
/// it from the records before appending).
fn read_records(path: &Path) -> Result<Vec<Value>, Error> {
    let bytes = match read_limited(path, RESULTS_LIMIT, "sweep results") {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path, e)),
    };
    // A last line without its newline was cut short (killed or out of space mid-write).
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn = usize::from(complete < bytes.len());
    let (records, bad) = parse_records(&bytes[..complete]).map_err(|e| io_err(path, e))?;
    if torn + bad > 0 {
        tracing::warn!(
            "{}: dropped {} incomplete or unreadable line(s); their points run again",
            path.display(),
            torn + bad
        );
    }
    Ok(records)
}

/// Writes `text` to `path` atomically: `NAME.tmp` in the same directory, fsync, rename. On
/// failure the temporary file is removed and `path` is left as it was.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let r = File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    let r = r.and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Writes the sorted result files of `records` and, with `summarise` (once the points have
/// run, not when a resumed sweep first tidies its files), the summary files.
fn finalize(
    dir: &Path,
    axis_paths: &[String],
    records: &BTreeMap<usize, Value>,
    summarise: bool,
) -> Result<(), Error> {
    let mut jsonl = String::new();
    let mut csv = csv_header(axis_paths);
    csv.push('\n');
    for rec in records.values() {
        jsonl.push_str(&rec.to_string());
        jsonl.push('\n');
        csv.push_str(&csv_line(rec, axis_paths));
        csv.push('\n');
    }
    let jp = dir.join("results.jsonl");
    write_atomic(&jp, &jsonl).map_err(|e| write_err(&jp, e, records.len()))?;
    let cp = dir.join("results.csv");
    write_atomic(&cp, &csv).map_err(|e| write_err(&cp, e, records.len()))?;
    if !summarise {
        return Ok(());
    }
    let (md, json) = summary(records, axis_paths);
    for (name, text) in [("summary.md", md), ("summary.json", json)] {
        let p = dir.join(name);
        write_atomic(&p, &text).map_err(|e| write_err(&p, e, records.len()))?;
    }
    Ok(())
}

/// Scenario fields `run::evaluate_numerics` does not read, left out of [`numerics_key`]. Audit
/// (numerics::evaluate, its `program` and `forward`, backend::build, run::check_lora_shapes):
/// the numerics read `seed`, `numerics`, `workload` (the schedule and weights), `hardware.tile`,
/// `hardware.cluster_backend` (the backend computes Y and checks the LoRA shapes),
/// `mapping.row_blocks`, `sweep.tokens_per_batch` (the shape check) and, from the mapping, each
/// instance's block, repetition, name and first tile per operation (the tiles' noise streams).
/// Everything not listed here stays in the key, so a field added later splits groups (correct,
/// if slower) until it is audited and listed.
pub const NUMERICS_IGNORE: [&str; 9] = [
    "sweep.integration_time_ns",
    "sweep.strategy",
    "sweep.axes",
    "sweep.record",
    "hardware.interconnect",
    "hardware.energy",
    // read only through the tile placement, which the key holds itself
    "mapping.clusters",
    // which clusters compute a dynamic operation: timing only (sim/tests/dynamic_mapping.rs)
    "mapping.dynamic",
    "mapping.attention_clusters",
];

/// The inputs of `run::evaluate_numerics` for `loaded`, as text: groups with equal keys have
/// equal numerics (the same result, or the same error). The scenario without
/// [`NUMERICS_IGNORE`], the placement the numerics read from the mapping (or the mapping's
/// error), the schedule and the resolved scenario, weights, checkpoint and adapter paths.
pub fn numerics_key(loaded: &Loaded) -> Result<String, Error> {
    let mut sc = serde_json::to_value(&loaded.scenario)
        .map_err(|e| Error::Sweep(format!("internal: scenario to JSON: {e}")))?;
    for path in NUMERICS_IGNORE {
        let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
        let mut cur = Some(&mut sc);
        for seg in parent.split('.').filter(|s| !s.is_empty()) {
            cur = cur.and_then(|v| v.get_mut(seg));
        }
        if let Some(Value::Object(m)) = cur {
            m.remove(last);
        }
    }
    let placement = match crate::mapping::Mapping::new(&loaded.schedule, &loaded.scenario, 1) {
        Ok(m) => json!(m
            .instances
            .iter()
            .map(|i| {
                let first: Vec<u32> = i.ops.iter().map(|o| o.first_tile).collect();
                json!([i.block, i.rep, i.name, first])
            })
            .collect::<Vec<_>>()),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    Ok(json!({
        "scenario": sc,
        "placement": placement,
        "schedule": format!("{:?}", loaded.schedule),
        "path": loaded.path.display().to_string(),
        "npy_dir": shown(&loaded.npy_dir),
        "checkpoint": shown(&loaded.checkpoint),
        "adapter": shown(&loaded.adapter),
    })
    .to_string())
}

/// The numerics of point group `g` (one per combination of axis values), which the groups
/// sharing its numerics inputs use too ([`Plan::numerics_of`]): read from
/// `DIR/numerics-G.json` when an earlier run of this sweep stored them (the manifest check has
/// already matched the scenario), else evaluated and stored there before any point runs, so a
/// sweep stopped after its numerics never evaluates them again. The file holds the result
/// exactly (floats round-trip); an unreadable one is evaluated again, with a note. The outer
/// error is a failure to store them (a disk problem: the sweep stops and keeps its points), the
/// inner one a failure to evaluate them (the group's points fail with it).
#[allow(clippy::type_complexity)]
fn stored_numerics(
    dir: &Path,
    g: usize,
    loaded: &Loaded,
) -> Result<Result<Option<crate::numerics::NumericsResult>, Error>, (PathBuf, std::io::Error)> {
    let path = dir.join(format!("numerics-{g}.json"));
    if path.is_file() {
        match read_text(&path, "stored numerics")
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(n) => return Ok(Ok(n)),
            Err(e) => crate::cmd::note(format_args!(
                "note: {}: {e}; evaluating the numerics again",
                path.display()
            )),
        }
    }
    let num = match run::evaluate_numerics(loaded) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let text = match serde_json::to_string(&num) {
        Ok(t) => t,
        Err(e) => return Ok(Err(Error::Serialise(e.to_string()))),
    };
    write_atomic(&path, &text).map_err(|e| (path, e))?;
    Ok(Ok(num))
}

/// The sweep's answer (`summary.md`, `summary.json`): per axis values, integration time and
/// strategy (in point order), the finished point whose recorded row has the lowest hybrid
/// latency (the smaller t on a tie: `crate::summary::faster`), with its t, latency, overhead
/// and bound. Failed points are left out.
pub fn summary(records: &BTreeMap<usize, Value>, axis_paths: &[String]) -> (String, String) {
    let num = |r: &Value, k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let mut groups: Vec<(String, &Value)> = Vec::new();
    for rec in records.values() {
        let (Some(row), Some("ok")) = (rec.get("row"), rec.get("status").and_then(Value::as_str))
        else {
            continue;
        };
        let params: Vec<Value> = axis_paths
            .iter()
            .map(|p| {
                rec.get("params")
                    .and_then(|m| m.get(p))
                    .cloned()
                    .unwrap_or(Value::Null)
            })
            .collect();
        let key = json!([params, num(row, "integration_time_ns"), row.get("strategy")]).to_string();
        let at = |r: &Value| {
            let t = r.get("tokens_per_batch").and_then(Value::as_u64);
            (num(r, "hybrid_ns"), t.unwrap_or(0) as usize)
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, best)) => {
                if crate::summary::faster(at(row), at(&best["row"])) {
                    *best = rec;
                }
            }
            None => groups.push((key, rec)),
        }
    }
    let mut md = String::from(
        "# Sweep summary\n\nPer axis values, integration time and strategy: the point whose \
         recorded row has the lowest hybrid latency (results.csv has every point).\n\n",
    );
    let mut head: Vec<String> = axis_paths.iter().map(|p| format!("`{p}`")).collect();
    head.extend(
        [
            "t_int ns",
            "strategy",
            "best t",
            "hybrid us",
            "overhead",
            "bound",
            "point",
        ]
        .map(String::from),
    );
    md.push_str(&format!(
        "| {} |\n|{}\n",
        head.join(" | "),
        "---|".repeat(head.len())
    ));
    let mut out = Vec::new();
    for (_, rec) in &groups {
        let row = &rec["row"];
        let params: Map<String, Value> = axis_paths
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    rec["params"].get(p).cloned().unwrap_or(Value::Null),
                )
            })
            .collect();
        let bound = row
            .get("bound")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty());
        let mut cells: Vec<String> = params.values().map(csv_field).collect();
        cells.extend([
            num(row, "integration_time_ns").to_string(),
            row.get("strategy").map_or(String::new(), csv_field),
            row.get("tokens_per_batch").map_or(String::new(), csv_field),
            format!("{:.2}", num(row, "hybrid_ns") / 1000.0),
            format!("{:.3}", num(row, "overhead")),
            bound.unwrap_or("-").to_string(),
            rec.get("point").map_or(String::new(), csv_field),
        ]);
        md.push_str(&format!("| {} |\n", cells.join(" | ")));
        out.push(json!({
            "params": params,
            "integration_time_ns": row.get("integration_time_ns"),
            "strategy": row.get("strategy"),
            "tokens_per_batch": row.get("tokens_per_batch"),
            "hybrid_ns": row.get("hybrid_ns"),
            "overhead": row.get("overhead"),
            "bound": bound,
            "point": rec.get("point"),
        }));
    }
    let json = serde_json::to_string_pretty(&Value::Array(out)).unwrap_or_default() + "\n";
    (md, json)
}

/// Where result lines go: a file (appended, synced, and cut back after a failed write) or, in
/// tests, anything that can do the same.
pub trait LineSink: Write {
    /// Makes the written bytes durable (`fsync` for a file).
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cuts the data back to `len` bytes (removes a partly written line).
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
}

impl LineSink for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }
}

/// An append-only file of complete lines: [`LineLog::append`] writes a line whole and syncs
/// it, or on any failure cuts off what it wrote and refuses every later line, so the file
/// always ends with a complete line (unless even the cut fails; then the reader drops the torn
/// line).
pub struct LineLog<W: LineSink> {
    sink: W,
    len: u64,
    failed: bool,
}

impl<W: LineSink> LineLog<W> {
    /// A log whose sink already holds `len` bytes of complete lines.
    pub fn new(sink: W, len: u64) -> Self {
        Self {
            sink,
            len,
            failed: false,
        }
    }

    /// Appends `line` and a newline, then syncs. After an error nothing more is written.
    pub fn append(&mut self, line: &str) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other(
                "an earlier write to this file failed",
            ));
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        match self
            .sink
            .write_all(&buf)
            .and_then(|()| self.sink.flush())
            .and_then(|()| self.sink.sync())
        {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                let _ = self.sink.truncate(self.len);
                Err(e)
            }
        }
    }

    /// Bytes of complete lines written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when no byte has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sink.
    pub fn into_inner(self) -> W {
        self.sink
    }
}

/// Progress callback: (finished, total, the point just finished, its status).
pub type Progress = Box<dyn Fn(usize, usize, &Point, &str) + Sync>;

/// Options of one sweep run.
pub struct SweepOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Run only points with index % n == i.
    pub shard: Option<(usize, usize)>,
    /// Worker threads (None: all cores).
    pub jobs: Option<usize>,
    /// Called after each finished point with (finished, total, point, status).
    pub progress: Progress,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSummary {
    /// Points in this run's share (all points, or the shard's).
    pub points: usize,
    /// Points already finished before this run (resumed).
    pub skipped: usize,
    /// Points run now.
    pub ran: usize,
    /// Points whose row records an error.
    pub failed: usize,
}

struct Sink {
    jsonl: LineLog<File>,
    csv: LineLog<File>,
    /// Rows in results.jsonl (finished points kept on disk).
    kept: usize,
}

/// Runs (or resumes) a sweep.
pub fn sweep(plan: &Plan, opts: &SweepOptions) -> Result<SweepSummary, Error> {
    let dir = &opts.out;
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let man_path = dir.join("manifest.json");
    let man = manifest(plan, opts.shard);
    // A manifest that exists but cannot be read (too large, a directory, unreadable) is an
    // error: the directory is not this sweep's, and overwriting it would lose someone's file.
    let existing = match read_text(&man_path, "a sweep manifest") {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(&man_path, e)),
    };
    if let Some(text) = existing {
        let old: Value = serde_json::from_str(&text).map_err(|e| {
            Error::Sweep(format!(
                "{}: not a hetsim sweep manifest ({e}); choose another --out",
                man_path.display()
            ))
        })?;
        for key in ["scenario_hash", "points", "shard", "axes"] {
            if old.get(key) != man.get(key) {
                return Err(Error::Sweep(format!(
                    "{} holds a different sweep ({key} differs: {} there, {} here); choose \
                     another --out or delete the directory",
                    dir.display(),
                    old.get(key).cloned().unwrap_or(Value::Null),
                    man.get(key).cloned().unwrap_or(Value::Null)
                )));
            }
        }
    } else {
        write_atomic(&man_path, &format!("{man:#}\n")).map_err(|e| write_err(&man_path, e, 0))?;
    }
    let jsonl_path = dir.join("results.jsonl");
    let csv_path = dir.join("results.csv");
    let mut records: BTreeMap<usize, Value> = BTreeMap::new();
    for r in read_records(&jsonl_path)? {
        if let Some(i) = r.get("point").and_then(Value::as_u64) {
            records.insert(i as usize, r);
        }
    }
    // Rewrite both files from the complete records (drops any torn line).
    finalize(dir, &plan.axis_paths, &records, false)?;
    let mine: Vec<&Point> = plan
        .points
        .iter()
        .filter(|p| opts.shard.is_none_or(|(i, n)| p.index % n == i))
        .collect();
    let todo: Vec<&Point> = mine
        .iter()
        .copied()
        .filter(|p| !records.contains_key(&p.index))
        .collect();
    let skipped = mine.len() - todo.len();
    let open = |p: &Path| -> Result<LineLog<File>, Error> {
        let f = OpenOptions::new()
            .append(true)
            .open(p)
            .map_err(|e| io_err(p, e))?;
        let len = f.metadata().map_err(|e| io_err(p, e))?.len();
        Ok(LineLog::new(f, len))
    };
    let sink = Mutex::new(Sink {
        jsonl: open(&jsonl_path)?,
        csv: open(&csv_path)?,
        kept: records.len(),
    });
    let done = Mutex::new(skipped);
    let total = mine.len();
    let fresh: Mutex<Vec<(usize, Value)>> = Mutex::new(Vec::new());
    let write_failure: Mutex<Option<Error>> = Mutex::new(None);
    // Set at the first failed write: the points not started yet are not run.
    let stop = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Sweep(format!("thread pool: {e}")))?;
    pool.install(|| {
        // Points of groups with equal numerics inputs share one numerics evaluation (stored as
        // the first such group's file). The sharing classes run in parallel too, so a class's
        // numerics overlap other classes' points (rows are keyed by point index and the files
        // are rewritten in point order at the end, so the output does not depend on the order
        // in which points finish).
        let rep = |g: usize| {
            plan.numerics_of
                .get(g)
                .copied()
                .filter(|&r| r < plan.groups.len())
                .unwrap_or(g)
        };
        let classes: BTreeSet<usize> = (0..plan.groups.len()).map(rep).collect();
        classes
            .into_iter()
            .collect::<Vec<_>>()
            .par_iter()
            .for_each(|&r| {
                let points: Vec<&Point> =
                    todo.iter().copied().filter(|p| rep(p.group) == r).collect();
                if points.is_empty() || stop.load(Ordering::SeqCst) || interrupted() {
                    return;
                }
                let num = match stored_numerics(dir, r, &plan.groups[r]) {
                    Ok(n) => n,
                    Err((path, e)) => {
                        // A disk problem, not the points': stop and keep what is finished.
                        stop.store(true, Ordering::SeqCst);
                        let kept = sink.lock().map(|s| s.kept).unwrap_or(0);
                        if let Ok(mut w) = write_failure.lock() {
                            w.get_or_insert(write_err(&path, e, kept));
                        }
                        return;
                    }
                };
                points.par_iter().for_each(|p| {
                    if stop.load(Ordering::SeqCst) || interrupted() {
                        return;
                    }
                    let outcome = match &num {
                        Err(e) => Err(e.to_string()),
                        Ok(n) => run::run_combinations(
                            &plan.groups[p.group],
                            &[p.combination],
                            n.as_ref(),
                        )
                        .map_err(|e| e.to_string())
                        .and_then(|rep| {
                            pick(&rep.rows, &plan.record).cloned().ok_or_else(|| {
                                format!("no row matches the sweep's record {:?}", plan.record)
                            })
                        }),
                    };
                    let status = if outcome.is_ok() { "ok" } else { "error" };
                    let rec = record_json(p, outcome);
                    let line = rec.to_string();
                    let csv = csv_line(&rec, &plan.axis_paths);
                    let written = match sink.lock() {
                        Ok(mut s) if !stop.load(Ordering::SeqCst) => {
                            // JSONL first: it is what a resume reads; the CSV is rebuilt from it.
                            let r = match s.jsonl.append(&line) {
                                Ok(()) => {
                                    s.kept += 1;
                                    s.csv.append(&csv).map_err(|e| (csv_path.clone(), e))
                                }
                                Err(e) => Err((jsonl_path.clone(), e)),
                            };
                            if let Err((path, e)) = r {
                                stop.store(true, Ordering::SeqCst);
                                if let Ok(mut w) = write_failure.lock() {
                                    w.get_or_insert(write_err(&path, e, s.kept));
                                }
                                false
                            } else {
                                true
                            }
                        }
                        _ => false,
                    };
                    if !written {
                        return;
                    }
                    if let Ok(mut f) = fresh.lock() {
                        f.push((p.index, rec));
                    }
                    let n = done.lock().map(|mut d| {
                        *d += 1;
                        *d
                    });
                    (opts.progress)(n.unwrap_or(0), total, p, status);
                });
            });
    });
    if let Some(e) = write_failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let fresh = fresh.into_inner().unwrap_or_default();
    let failed = fresh
        .iter()
        .filter(|(_, r)| r.get("status") != Some(&json!("ok")))
        .count();
    let ran = fresh.len();
    records.extend(fresh);
    finalize(dir, &plan.axis_paths, &records, true)?;
    if interrupted() {
        return Err(Error::Interrupted {
            dir: dir.to_path_buf(),
            kept: records.len(),
        });
    }
    Ok(SweepSummary {
        points: total,
        skipped,
        ran,
        failed,
    })
}

/// Shard directories read and checked by [`merge_read`], ready to be written.
pub struct Merged {
    manifest: Value,
    axis_paths: Vec<String>,
    records: BTreeMap<usize, Value>,
}

impl Merged {
    /// Number of points.
    pub fn points(&self) -> usize {
        self.records.len()
    }

    /// Writes the merged manifest and result files into `out`; returns the number of points.
    pub fn write(&self, out: &Path) -> Result<usize, Error> {
        std::fs::create_dir_all(out).map_err(|e| io_err(out, e))?;
        let mut merged_man = self.manifest.clone();
        merged_man["shard"] = Value::Null;
        let mp = out.join("manifest.json");
        write_atomic(&mp, &format!("{merged_man:#}\n")).map_err(|e| write_err(&mp, e, 0))?;
        finalize(out, &self.axis_paths, &self.records, true)?;
        Ok(self.records.len())
    }
}

/// Merges shard directories into `out`: every point of the sweep exactly once.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize, Error> {
    merge_read(dirs)?.write(out)
}

/// Reads shard directories of one sweep and checks that every point is there exactly once;
/// writes nothing.
pub fn merge_read(dirs: &[PathBuf]) -> Result<Merged, Error> {
    let mut first: Option<Value> = None;
    let mut records: BTreeMap<usize, (Value, PathBuf)> = BTreeMap::new();
    for d in dirs {
        let mp = d.join("manifest.json");
        let text = read_text(&mp, "a sweep manifest").map_err(|e| io_err(&mp, e))?;
        let man: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Sweep(format!("{}: {e}", mp.display())))?;
        if let Some(f) = &first {
            for key in ["scenario_hash", "points", "axes"] {
                if f.get(key) != man.get(key) {
                    return Err(Error::Sweep(format!(
                        "{} is a different sweep from {} ({key} differs)",
                        d.display(),
                        dirs[0].display()
                    )));
                }
            }
        } else {
            first = Some(man.clone());
        }
        for r in read_records(&d.join("results.jsonl"))? {
            let Some(i) = r.get("point").and_then(Value::as_u64) else {
                continue;
            };
            if let Some((_, other)) = records.get(&(i as usize)) {
                return Err(Error::Sweep(format!(
                    "point {i} appears in both {} and {}",
                    other.display(),
                    d.display()
                )));
            }
            records.insert(i as usize, (r, d.clone()));
        }
    }
    let Some(man) = first else {
        return Err(Error::Sweep("merge needs at least one directory".into()));
    };
    let total = man.get("points").and_then(Value::as_u64).unwrap_or(0) as usize;
    let present: BTreeSet<usize> = records.keys().copied().collect();
    let missing: Vec<usize> = (0..total).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        return Err(Error::Sweep(format!(
            "{} of {total} points are missing (e.g. {}); run the missing shards first",
            missing.len(),
            shown.join(", ")
        )));
    }
    let axis_paths: Vec<String> = man
        .get("axes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let records: BTreeMap<usize, Value> = records.into_iter().map(|(i, (r, _))| (i, r)).collect();
    Ok(Merged {
        manifest: man,
        axis_paths,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_set_and_misses_are_named() {
        let mut v = json!({"hardware": {"tile": {"adc": {"bits": 8}}}, "list": [1, 2]});
        set_path(&mut v, "hardware.tile.adc.bits", json!(6)).unwrap();
        assert_eq!(v["hardware"]["tile"]["adc"]["bits"], json!(6));
        set_path(&mut v, "list.1", json!(5)).unwrap();
        assert_eq!(v["list"][1], json!(5));
        let e = set_path(&mut v, "hardware.tyle.adc", json!(1)).unwrap_err();
        assert!(e.contains("`tyle`") && e.contains("tile"), "{e}");
    }

    #[test]
    fn ranges_include_their_end() {
        let v = expand(&AxisValues::Range(1.0, 2.0, 0.25)).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[4], json!(2.0));
        assert!(expand(&AxisValues::Range(2.0, 1.0, 1.0))
            .unwrap()
            .is_empty());
        // No silent cut-off and no endless ranges.
        assert_eq!(
            expand(&AxisValues::Range(1.0, 100_000.0, 1.0))
                .unwrap()
                .len(),
            MAX_RANGE_VALUES
        );
        for bad in [
            (0.0, 100_000.0, 1.0),
            (0.0, 1.0, 0.0),
            (0.0, 1.0, -1.0),
            (0.0, f64::INFINITY, 1.0),
            (f64::NAN, 1.0, 1.0),
            (0.0, 1.0, f64::NAN),
        ] {
            let e = expand(&AxisValues::Range(bad.0, bad.1, bad.2)).unwrap_err();
            assert!(e.starts_with("Range("), "{e}");
        }
    }

    /// The summary keeps, per axis value, integration time and strategy, the finished point
    /// with the lowest hybrid latency (a tie to the smaller t) and leaves failed points out.
    #[test]
    fn the_summary_keeps_the_fastest_point_per_group() {
        let rec = |point: usize, rows: u64, strategy: &str, t: u64, hybrid: f64, ok: bool| {
            json!({
                "point": point,
                "status": if ok { "ok" } else { "error" },
                "params": {"hardware.tile.rows": rows},
                "row": {"strategy": strategy, "integration_time_ns": 128.0,
                        "tokens_per_batch": t, "hybrid_ns": hybrid, "overhead": hybrid / 1000.0,
                        "bound": "tile"},
            })
        };
        let records: BTreeMap<usize, Value> = [
            rec(0, 256, "pipelined", 8, 2000.0, true),
            rec(1, 256, "pipelined", 16, 1500.0, true),
            rec(2, 256, "pipelined", 32, 1500.0, true),
            rec(3, 512, "pipelined", 8, 1200.0, true),
            rec(4, 512, "pipelined", 16, 900.0, false),
        ]
        .into_iter()
        .enumerate()
        .collect();
        let (md, json) = summary(&records, &["hardware.tile.rows".into()]);
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| 2") || l.starts_with("| 5"))
            .collect();
        assert_eq!(
            rows,
            [
                "| 256 | 128 | pipelined | 16 | 1.50 | 1.500 | tile | 1 |",
                "| 512 | 128 | pipelined | 8 | 1.20 | 1.200 | tile | 3 |"
            ],
            "{md}"
        );
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(2));
        assert_eq!(v[0]["params"]["hardware.tile.rows"], json!(256));
    }

    #[test]
    fn csv_quotes_and_orders_columns() {
        let rec = json!({"point": 3, "point_id": "ab", "status": "ok", "error": null,
            "params": {"a.b": 2}, "row": {"strategy": "pipelined", "cluster_model": "x, y",
            "area_mm2": 1.5}});
        let line = csv_line(&rec, &["a.b".to_string()]);
        assert!(line.starts_with("3,ab,ok,,2,pipelined,"), "{line}");
        // area_mm2, then the nine latency parts (absent here)
        assert!(
            line.ends_with(",\"x, y\",,,,,,,,,,,,,,1.5,,,,,,,,,"),
            "{line}"
        );
        assert_eq!(
            csv_header(&["a.b".into()]).split(',').count(),
            4 + 1 + row_columns().len()
        );
    }

    /// A disk that takes `room` bytes and then fails every write with ENOSPC, like a real one:
    /// a write that does not fit stores what fits and reports that count (a short write).
    struct TinyDisk {
        data: Vec<u8>,
        room: usize,
        sync_fails: bool,
        truncate_fails: bool,
    }

    impl TinyDisk {
        fn new(room: usize) -> Self {
            Self {
                data: Vec::new(),
                room,
                sync_fails: false,
                truncate_fails: false,
            }
        }
    }

    fn enospc() -> std::io::Error {
        std::io::Error::from_raw_os_error(28)
    }

    impl Write for TinyDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room - self.data.len());
            if n == 0 && !buf.is_empty() {
                return Err(enospc());
            }
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl LineSink for TinyDisk {
        fn sync(&mut self) -> std::io::Result<()> {
            if self.sync_fails {
                Err(enospc())
            } else {
                Ok(())
            }
        }
        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            if self.truncate_fails {
                return Err(std::io::Error::other("truncate failed"));
            }
            self.data.truncate(len as usize);
            Ok(())
        }
    }

    fn row(i: usize) -> String {
        json!({"point": i, "point_id": format!("{i:016x}"), "status": "ok", "row": {"x": i}})
            .to_string()
    }

    /// Rows appended to a disk that fills up after every possible byte count: the rows whose
    /// append succeeded are all there, whole, in order, and nothing else is.
    #[test]
    fn a_full_disk_never_leaves_a_half_row() {
        let rows: Vec<String> = (0..6).map(row).collect();
        let total: usize = rows.iter().map(|r| r.len() + 1).sum();
        for room in 0..=total {
            let mut log = LineLog::new(TinyDisk::new(room), 0);
            let mut ok = 0;
            let mut failed = None;
            for r in &rows {
                match log.append(r) {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            // Later rows are refused after a failure, so no row can follow a gap.
            if failed.is_some() {
                assert!(log.append(&rows[0]).is_err());
            }
            let expected: String = rows[..ok].iter().map(|r| format!("{r}\n")).collect();
            assert_eq!(log.len() as usize, expected.len(), "room {room}");
            let disk = log.into_inner();
            assert_eq!(
                String::from_utf8(disk.data).unwrap(),
                expected,
                "room {room}"
            );
            let fits = rows
                .iter()
                .scan(0, |n, r| {
                    *n += r.len() + 1;
                    Some(*n)
                })
                .filter(|&n| n <= room)
                .count();
            assert_eq!(ok, fits, "room {room}");
            if ok < rows.len() {
                assert_eq!(failed.unwrap().raw_os_error(), Some(28), "room {room}");
            }
        }
    }

    /// A sync that fails (ENOSPC reported at fsync, as on NFS or with delayed allocation) takes
    /// the row back out too: a row counts only once it is durable.
    #[test]
    fn a_failed_sync_takes_the_row_back() {
        let mut disk = TinyDisk::new(1 << 20);
        disk.sync_fails = true;
        let mut log = LineLog::new(disk, 0);
        assert_eq!(log.append(&row(0)).unwrap_err().raw_os_error(), Some(28));
        assert!(log.is_empty());
        assert!(log.into_inner().data.is_empty());
    }

    /// When even the cut fails, the torn row stays at the end of the file, and reading the file
    /// back (what a resumed sweep does) drops it and keeps every complete row.
    #[test]
    fn a_torn_last_row_is_dropped_on_resume() {
        let rows: Vec<String> = (0..4).map(row).collect();
        let room = rows[0].len() + 1 + rows[1].len() + 1 + rows[2].len() / 2;
        let mut disk = TinyDisk::new(room);
        disk.truncate_fails = true;
        let mut log = LineLog::new(disk, 0);
        let ok = rows.iter().take_while(|r| log.append(r).is_ok()).count();
        assert_eq!(ok, 2);
        let data = log.into_inner().data;
        assert_eq!(data.len(), room, "the torn half row is in the file");
        let path = std::env::temp_dir().join(format!("hetsim-torn-{}.jsonl", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        let got = read_records(&path).unwrap();
        // The file itself is left alone: a sweep rewrites it from these records.
        assert_eq!(std::fs::read(&path).unwrap(), data);
        std::fs::remove_file(&path).unwrap();
        let points: Vec<u64> = got.iter().map(|r| r["point"].as_u64().unwrap()).collect();
        assert_eq!(points, [0, 1]);
        assert!(
            read_records(&path).unwrap().is_empty(),
            "no file: no records"
        );
    }

    /// Lines that are not records are dropped wherever they are, and complete records after
    /// them are kept (an older hetsim cut the file at the first bad line).
    #[test]
    fn bad_lines_in_the_middle_do_not_hide_later_rows() {
        let text = format!(
            "{}\n{{\"point\": 1, \"status\n\n[1,2]\n{{\"no_point\": 3}}\n{}\n{}",
            row(0),
            row(2),
            &row(3)[..10]
        );
        let (recs, dropped) =
            parse_records(&text.as_bytes()[..text.rfind('\n').unwrap() + 1]).unwrap();
        let points: Vec<u64> = recs.iter().map(|r| r["point"].as_u64().unwrap()).collect();
        assert_eq!(points, [0, 2]);
        assert_eq!(dropped, 3);
    }

    /// The final files are replaced whole or not at all: a failed rewrite leaves the old file
    /// and no temporary file.
    #[test]
    fn a_failed_rewrite_keeps_the_old_file() {
        let dir = std::env::temp_dir().join(format!("hetsim-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("results.csv");
        write_atomic(&f, "old\n").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "old\n");
        assert!(!dir.join("results.csv.tmp").exists());
        // The temporary file cannot be created: a directory is in its way.
        std::fs::create_dir(dir.join("results.csv.tmp")).unwrap();
        assert!(write_atomic(&f, "new\n").is_err());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "old\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
