//! A validator of Chrome trace-event JSON (the object form) for the tests and for users who
//! post-process traces.
//!
//! Checks, per event: `ph` is a known phase and its required fields are there with the right
//! types (`X`: name, ts, dur, pid, tid; `B`: name, ts, pid, tid; `E`: ts, pid, tid; `C`: name,
//! ts, pid, args of numbers; `i`/`I`: name, ts, pid, tid; `M`: name, pid, args); timestamps are
//! finite and non-negative and `dur >= 0`. Per track (pid and tid, or pid and counter name),
//! timestamps are non-decreasing in file order, `B`/`E` are balanced, and complete slices nest
//! (no partial overlap, which Perfetto cannot draw). Every pid is named by a `process_name`
//! event and every tid that carries slices by a `thread_name` event.

use super::{Pid, Tid, TrackNames};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What a valid trace holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceSummary {
    /// Events of every phase, metadata included.
    pub events: usize,
    /// Complete (`X`) slices plus matched `B`/`E` pairs.
    pub slices: usize,
    /// Counter (`C`) samples.
    pub counter_samples: usize,
    /// Process names by pid.
    pub processes: BTreeMap<Pid, String>,
    /// Track names by (pid, tid).
    pub threads: TrackNames,
    /// Slices per (pid, tid).
    pub slices_per_track: BTreeMap<(Pid, Tid), usize>,
    /// Slice names seen, with their counts.
    pub slice_names: BTreeMap<String, usize>,
    /// Counter names per pid.
    pub counters: BTreeSet<(Pid, String)>,
    /// Largest slice end or counter time, microseconds.
    pub end_us: f64,
}

/// Tolerance for comparing float microseconds that came from integer picoseconds.
const EPS: f64 = 1e-7;

fn num(e: &Value, k: &str) -> Option<f64> {
    e.get(k).and_then(Value::as_f64)
}

fn id(e: &Value, k: &str) -> Option<u32> {
    e.get(k)
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
}

/// Validates trace-event JSON text; returns what it holds, or every problem found (each naming
/// the event's index).
pub fn validate(text: &str) -> Result<TraceSummary, Vec<String>> {
    let doc: Value = serde_json::from_str(text).map_err(|e| vec![format!("not JSON: {e}")])?;
    let events = doc
        .get("traceEvents")
        .and_then(Value::as_array)
        .ok_or_else(|| vec!["no \"traceEvents\" array at the top level".to_string()])?;
    let mut errs = Vec::new();
    if let Some(u) = doc.get("displayTimeUnit") {
        if !matches!(u.as_str(), Some("ms") | Some("ns")) {
            errs.push(format!("displayTimeUnit {u} is neither \"ms\" nor \"ns\""));
        }
    }
    let mut s = TraceSummary {
        events: events.len(),
        ..TraceSummary::default()
    };
    let mut last_ts: BTreeMap<(Pid, String), f64> = BTreeMap::new();
    let mut open_be: BTreeMap<(Pid, Tid), Vec<String>> = BTreeMap::new();
    let mut nest: BTreeMap<(Pid, Tid), Vec<f64>> = BTreeMap::new();
    let mut used_pids: BTreeSet<Pid> = BTreeSet::new();
    let mut used_tids: BTreeSet<(Pid, Tid)> = BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        let mut bad = |m: String| errs.push(format!("event {i}: {m}"));
        let Some(ph) = e.get("ph").and_then(Value::as_str) else {
            bad("no \"ph\" string".into());
            continue;
        };
        let Some(pid) = id(e, "pid") else {
            bad(format!("phase {ph}: no integer \"pid\""));
            continue;
        };
        used_pids.insert(pid);
        let name = e.get("name").and_then(Value::as_str);
        if ph == "M" {
            let arg = e
                .get("args")
                .and_then(|a| a.get("name"))
                .and_then(Value::as_str);
            match (name, arg) {
                (Some("process_name"), Some(n)) => {
                    s.processes.insert(pid, n.to_string());
                }
                (Some("thread_name"), Some(n)) => match id(e, "tid") {
                    Some(t) => {
                        s.threads.insert((pid, t), n.to_string());
                    }
                    None => bad("thread_name without an integer \"tid\"".into()),
                },
                (Some("process_sort_index" | "thread_sort_index" | "process_labels"), _) => {}
                (Some(n @ ("process_name" | "thread_name")), None) => {
                    bad(format!("{n} without args.name"))
                }
                (Some(n), _) => bad(format!("unknown metadata {n:?}")),
                (None, _) => bad("metadata without a name".into()),
            }
            continue;
        }
        let Some(ts) = num(e, "ts") else {
            bad(format!("phase {ph}: no numeric \"ts\""));
            continue;
        };
        if !ts.is_finite() || ts < 0.0 {
            bad(format!("ts {ts} is negative or not finite"));
            continue;
        }
        let track_key = match ph {
            "C" => {
                let Some(n) = name else {
                    bad("counter without a name".into());
                    continue;
                };
                match e.get("args").and_then(Value::as_object) {
                    Some(a) if !a.is_empty() && a.values().all(|v| v.as_f64().is_some()) => {}
                    _ => bad(format!("counter {n:?}: args must be an object of numbers")),
                }
                s.counter_samples += 1;
                s.counters.insert((pid, n.to_string()));
                s.end_us = s.end_us.max(ts);
                (pid, format!("C:{n}"))
            }
            "X" | "B" | "E" | "i" | "I" => {
                let Some(tid) = id(e, "tid") else {
                    bad(format!("phase {ph}: no integer \"tid\""));
                    continue;
                };
                used_tids.insert((pid, tid));
                if ph != "E" && name.is_none() {
                    bad(format!("phase {ph}: no \"name\""));
                }
                match ph {
                    "X" => {
                        let Some(dur) = num(e, "dur") else {
                            bad("complete event without a numeric \"dur\"".into());
                            continue;
                        };
                        if !dur.is_finite() || dur < 0.0 {
                            bad(format!("dur {dur} is negative or not finite"));
                        }
                        let end = ts + dur.max(0.0);
                        let stack = nest.entry((pid, tid)).or_default();
                        while stack.last().is_some_and(|&top| top <= ts + EPS) {
                            stack.pop();
                        }
                        if let Some(&top) = stack.last() {
                            if end > top + EPS {
                                bad(format!(
                                    "slice {:?} ({ts}..{end} us) overlaps the slice ending at \
                                     {top} us on pid {pid} tid {tid} without nesting",
                                    name.unwrap_or("")
                                ));
                            }
                        }
                        stack.push(end);
                        s.slices += 1;
                        *s.slices_per_track.entry((pid, tid)).or_default() += 1;
                        *s.slice_names
                            .entry(name.unwrap_or("").to_string())
                            .or_default() += 1;
                        s.end_us = s.end_us.max(end);
                    }
                    "B" => open_be
                        .entry((pid, tid))
                        .or_default()
                        .push(name.unwrap_or("").to_string()),
                    "E" => match open_be.entry((pid, tid)).or_default().pop() {
                        Some(n) => {
                            s.slices += 1;
                            *s.slices_per_track.entry((pid, tid)).or_default() += 1;
                            *s.slice_names.entry(n).or_default() += 1;
                            s.end_us = s.end_us.max(ts);
                        }
                        None => bad(format!("E on pid {pid} tid {tid} without an open B")),
                    },
                    _ => s.end_us = s.end_us.max(ts),
                }
                (pid, format!("T:{tid}"))
            }
            other => {
                bad(format!("unsupported phase {other:?}"));
                continue;
            }
        };
        let last = last_ts.entry(track_key.clone()).or_insert(ts);
        if ts + EPS < *last {
            bad(format!(
                "ts {ts} goes back in time on track {} of pid {} (previous {last})",
                track_key.1, track_key.0
            ));
        }
        *last = last.max(ts);
    }
    for ((pid, tid), open) in &open_be {
        if !open.is_empty() {
            errs.push(format!(
                "pid {pid} tid {tid}: {} B event(s) never ended ({:?})",
                open.len(),
                open
            ));
        }
    }
    for p in &used_pids {
        if !s.processes.contains_key(p) {
            errs.push(format!("pid {p} has no process_name"));
        }
    }
    for t in &used_tids {
        if !s.threads.contains_key(t) {
            errs.push(format!("pid {} tid {} has no thread_name", t.0, t.1));
        }
    }
    if errs.is_empty() {
        Ok(s)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        validate(text).unwrap_err().join("\n")
    }

    const NAMES: &str = r#"{"name":"process_name","ph":"M","pid":1,"args":{"name":"p"}},
        {"name":"thread_name","ph":"M","pid":1,"tid":0,"args":{"name":"t"}}"#;

    #[test]
    fn accepts_balanced_begin_end_and_counters() {
        let t = format!(
            r#"{{"traceEvents":[{NAMES},
            {{"name":"a","ph":"B","pid":1,"tid":0,"ts":1}},
            {{"ph":"E","pid":1,"tid":0,"ts":2}},
            {{"name":"c","ph":"C","pid":1,"ts":0,"args":{{"v":1}}}}]}}"#
        );
        let s = validate(&t).unwrap();
        assert_eq!((s.slices, s.counter_samples), (1, 1));
    }

    #[test]
    fn rejects_each_kind_of_problem() {
        let cases = [
            (r#"{"name":"a","ph":"X","pid":1,"tid":0,"ts":1}"#, "dur"),
            (
                r#"{"name":"a","ph":"X","pid":1,"tid":0,"ts":1,"dur":-1}"#,
                "negative",
            ),
            (
                r#"{"name":"a","ph":"B","pid":1,"tid":0,"ts":1}"#,
                "never ended",
            ),
            (r#"{"ph":"E","pid":1,"tid":0,"ts":1}"#, "without an open B"),
            (
                r#"{"name":"a","ph":"X","pid":1,"tid":7,"ts":1,"dur":1}"#,
                "no thread_name",
            ),
            (
                r#"{"name":"a","ph":"X","pid":2,"tid":0,"ts":1,"dur":1}"#,
                "no process_name",
            ),
            (
                r#"{"name":"c","ph":"C","pid":1,"ts":1,"args":{"v":"x"}}"#,
                "numbers",
            ),
            (
                r#"{"name":"a","ph":"Q","pid":1,"tid":0,"ts":1}"#,
                "unsupported",
            ),
            (
                r#"{"name":"a","ph":"X","pid":1,"tid":0,"ts":5,"dur":1},
                   {"name":"b","ph":"X","pid":1,"tid":0,"ts":4,"dur":1}"#,
                "back in time",
            ),
            (
                r#"{"name":"a","ph":"X","pid":1,"tid":0,"ts":0,"dur":5},
                   {"name":"b","ph":"X","pid":1,"tid":0,"ts":3,"dur":5}"#,
                "without nesting",
            ),
        ];
        for (ev, want) in cases {
            let p = problems(&format!(r#"{{"traceEvents":[{NAMES},{ev}]}}"#));
            assert!(p.contains(want), "{ev}: {p}");
        }
        assert!(problems("[]").contains("traceEvents"));
        assert!(problems("{").contains("not JSON"));
    }
}
