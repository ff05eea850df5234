//! Sweeps: expand a scenario's axes into points, run them in parallel, and keep results safe.
//!
//! Points are the Cartesian product of the scenario's `sweep.axes` (first axis slowest) and,
//! for each axes assignment, its strategy x integration time x t combinations. A point's index
//! is its position in that order; its id is a 64-bit FNV-1a hash of the scenario text and the
//! point's parameter values, so it is stable across runs, machines and thread counts.
//!
//! Results go to `DIR/results.jsonl` and `DIR/results.csv`, one row per point, appended and
//! flushed to disk (`fsync`) as each point finishes. A killed sweep restarted with the same
//! command reads the JSONL (dropping a torn last line), skips finished points (a failed point
//! is finished too: its row carries the error), runs the rest, and finally rewrites both files
//! sorted by point index (write to a temporary file, then rename), so the final files are the
//! same bytes as an uninterrupted run's, whatever the thread count. `DIR/manifest.json`
//! records the scenario hash, the number of points and the shard, and guards against mixing
//! sweeps in one directory. `--shard I/N` runs the points whose index is I modulo N;
//! [`merge`] combines shard directories and checks that every point is there exactly once.

use crate::error::Error;
use crate::fnv;
use crate::report::Row;
use crate::run;
use crate::scenario::{self, AxisValue, AxisValues, Combination, Loaded, Record};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The columns of a [`Row`], in report order (also the CSV order).
pub const ROW_COLUMNS: [&str; 21] = [
    "strategy",
    "integration_time_ns",
    "tokens_per_batch",
    "scope",
    "layer",
    "op",
    "kind",
    "shape",
    "tile_ns",
    "cluster_ns",
    "transfer_ns",
    "hybrid_ns",
    "baseline_ns",
    "overhead",
    "bound",
    "tile_util",
    "cluster_util",
    "tcdm_peak_bytes",
    "tcdm_over",
    "rel_err",
    "cluster_model",
];

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

fn expand(values: &AxisValues) -> Vec<Value> {
    match values {
        AxisValues::List(v) => v.iter().map(axis_value).collect(),
        AxisValues::Range(from, to, step) => {
            let mut out = Vec::new();
            let mut k = 0u32;
            loop {
                let x = from + f64::from(k) * step;
                if x > to + 1e-9 || out.len() >= 100_000 {
                    break;
                }
                out.push(json!(x));
                k += 1;
            }
            out
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
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base = scenario::load_str(path, &text)?;
    let scenario_hash = fnv::hash(text.as_bytes());
    let axes = base.scenario.sweep.axes.clone();
    let record = base.scenario.sweep.record.clone();
    let axis_paths: Vec<String> = axes.iter().map(|a| a.path.clone()).collect();
    let axis_values: Vec<Vec<Value>> = axes.iter().map(|a| expand(&a.values)).collect();
    for (a, v) in axes.iter().zip(&axis_values) {
        if v.is_empty() {
            return Err(Error::Scenario {
                path: path.to_path_buf(),
                field: format!("sweep.axes[{}].values", a.path),
                message: "the axis has no values".into(),
                hint: "list at least one value, or a Range(from, to, step) with from <= to".into(),
            });
        }
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
    for (g, params) in assignments.iter().enumerate() {
        let loaded = if params.is_empty() {
            base.clone()
        } else {
            let mut v = serde_json::to_value(&base.scenario)
                .map_err(|e| Error::Backend(format!("internal: scenario to JSON: {e}")))?;
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
                .map_err(|e| Error::Backend(format!("internal: scenario to RON: {e}")))?;
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
        groups.push(loaded);
    }
    Ok(Plan {
        path: path.to_path_buf(),
        scenario_hash,
        axis_paths,
        groups,
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
    cols.extend(ROW_COLUMNS.iter().map(|s| s.to_string()));
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
    for c in ROW_COLUMNS {
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

/// Reads the complete records of a JSONL file; a torn last line (an interrupted write) is
/// dropped and the file truncated to the complete prefix.
fn read_records(path: &Path) -> Result<Vec<Value>, Error> {
    let Ok(f) = File::open(path) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut good_len = 0u64;
    let mut reader = BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| io_err(path, e))?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            break; // torn
        }
        match serde_json::from_str::<Value>(line.trim_end()) {
            Ok(v) if v.get("point").is_some() => {
                out.push(v);
                good_len += n as u64;
            }
            _ => break,
        }
    }
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.set_len(good_len).map_err(|e| io_err(path, e))?;
    Ok(out)
}

/// Writes `text` to `path` atomically (temporary file in the same directory, fsync, rename).
fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(text.as_bytes()).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// Writes the final, sorted result files of `records`.
fn finalize(
    dir: &Path,
    axis_paths: &[String],
    records: &BTreeMap<usize, Value>,
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
    write_atomic(&dir.join("results.jsonl"), &jsonl)?;
    write_atomic(&dir.join("results.csv"), &csv)
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
    jsonl: File,
    csv: File,
}

/// Runs (or resumes) a sweep.
pub fn sweep(plan: &Plan, opts: &SweepOptions) -> Result<SweepSummary, Error> {
    let dir = &opts.out;
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let man_path = dir.join("manifest.json");
    let man = manifest(plan, opts.shard);
    if let Ok(text) = std::fs::read_to_string(&man_path) {
        let old: Value = serde_json::from_str(&text).map_err(|e| {
            Error::Backend(format!(
                "{}: not a hetsim sweep manifest ({e}); choose another --out",
                man_path.display()
            ))
        })?;
        for key in ["scenario_hash", "points", "shard", "axes"] {
            if old.get(key) != man.get(key) {
                return Err(Error::Backend(format!(
                    "{} holds a different sweep ({key} differs: {} there, {} here); choose \
                     another --out or delete the directory",
                    dir.display(),
                    old.get(key).cloned().unwrap_or(Value::Null),
                    man.get(key).cloned().unwrap_or(Value::Null)
                )));
            }
        }
    } else {
        write_atomic(&man_path, &format!("{man:#}\n"))?;
    }
    let jsonl_path = dir.join("results.jsonl");
    let mut records: BTreeMap<usize, Value> = BTreeMap::new();
    for r in read_records(&jsonl_path)? {
        if let Some(i) = r.get("point").and_then(Value::as_u64) {
            records.insert(i as usize, r);
        }
    }
    // Rewrite both files from the complete records (drops any torn CSV line).
    finalize(dir, &plan.axis_paths, &records)?;
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
    let open = |p: &Path| {
        OpenOptions::new()
            .append(true)
            .open(p)
            .map_err(|e| io_err(p, e))
    };
    let sink = Mutex::new(Sink {
        jsonl: open(&jsonl_path)?,
        csv: open(&dir.join("results.csv"))?,
    });
    let done = Mutex::new(skipped);
    let total = mine.len();
    let fresh: Mutex<Vec<(usize, Value)>> = Mutex::new(Vec::new());
    let write_err: Mutex<Option<Error>> = Mutex::new(None);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Backend(format!("thread pool: {e}")))?;
    pool.install(|| {
        // Points of one group share the numerics evaluation; groups run one after another.
        for (g, loaded) in plan.groups.iter().enumerate() {
            let points: Vec<&Point> = todo.iter().copied().filter(|p| p.group == g).collect();
            if points.is_empty() {
                continue;
            }
            let num = run::evaluate_numerics(loaded);
            points.par_iter().for_each(|p| {
                let outcome = match &num {
                    Err(e) => Err(e.to_string()),
                    Ok(n) => run::run_combinations(loaded, &[p.combination], n.as_ref())
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
                if let Ok(mut s) = sink.lock() {
                    let r = (|| -> std::io::Result<()> {
                        writeln!(s.jsonl, "{line}")?;
                        s.jsonl.sync_data()?;
                        writeln!(s.csv, "{csv}")?;
                        s.csv.sync_data()
                    })();
                    if let Err(e) = r {
                        if let Ok(mut w) = write_err.lock() {
                            w.get_or_insert(io_err(dir, e));
                        }
                    }
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
        }
    });
    if let Some(e) = write_err.into_inner().ok().flatten() {
        return Err(e);
    }
    let fresh = fresh.into_inner().unwrap_or_default();
    let failed = fresh
        .iter()
        .filter(|(_, r)| r.get("status") != Some(&json!("ok")))
        .count();
    let ran = fresh.len();
    records.extend(fresh);
    finalize(dir, &plan.axis_paths, &records)?;
    Ok(SweepSummary {
        points: total,
        skipped,
        ran,
        failed,
    })
}

/// Merges shard directories into `out`: every point of the sweep exactly once.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize, Error> {
    let mut first: Option<Value> = None;
    let mut records: BTreeMap<usize, (Value, PathBuf)> = BTreeMap::new();
    for d in dirs {
        let mp = d.join("manifest.json");
        let text = std::fs::read_to_string(&mp).map_err(|e| io_err(&mp, e))?;
        let man: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Backend(format!("{}: {e}", mp.display())))?;
        if let Some(f) = &first {
            for key in ["scenario_hash", "points", "axes"] {
                if f.get(key) != man.get(key) {
                    return Err(Error::Backend(format!(
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
                return Err(Error::Backend(format!(
                    "point {i} appears in both {} and {}",
                    other.display(),
                    d.display()
                )));
            }
            records.insert(i as usize, (r, d.clone()));
        }
    }
    let Some(man) = first else {
        return Err(Error::Backend("merge needs at least one directory".into()));
    };
    let total = man.get("points").and_then(Value::as_u64).unwrap_or(0) as usize;
    let present: BTreeSet<usize> = records.keys().copied().collect();
    let missing: Vec<usize> = (0..total).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        return Err(Error::Backend(format!(
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
    std::fs::create_dir_all(out).map_err(|e| io_err(out, e))?;
    let mut merged_man = man.clone();
    merged_man["shard"] = Value::Null;
    write_atomic(&out.join("manifest.json"), &format!("{merged_man:#}\n"))?;
    let recs: BTreeMap<usize, Value> = records.into_iter().map(|(i, (r, _))| (i, r)).collect();
    finalize(out, &axis_paths, &recs)?;
    Ok(total)
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
        let v = expand(&AxisValues::Range(1.0, 2.0, 0.25));
        assert_eq!(v.len(), 5);
        assert_eq!(v[4], json!(2.0));
        assert!(expand(&AxisValues::Range(2.0, 1.0, 1.0)).is_empty());
    }

    #[test]
    fn csv_quotes_and_orders_columns() {
        let rec = json!({"point": 3, "point_id": "ab", "status": "ok", "error": null,
            "params": {"a.b": 2}, "row": {"strategy": "pipelined", "cluster_model": "x, y"}});
        let line = csv_line(&rec, &["a.b".to_string()]);
        assert!(line.starts_with("3,ab,ok,,2,pipelined,"), "{line}");
        assert!(line.ends_with(",\"x, y\""), "{line}");
        assert_eq!(
            csv_header(&["a.b".into()]).split(',').count(),
            4 + 1 + ROW_COLUMNS.len()
        );
    }
}
