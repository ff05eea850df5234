//! Chrome trace-event JSON: a writer, a validator, and the two traces hetsim produces.
//!
//! This module owns the trace-event format as Perfetto (ui.perfetto.dev) and chrome://tracing
//! read it: a JSON object `{"traceEvents": [...], "displayTimeUnit": "ns"}` whose events are
//! metadata (`"ph": "M"`: process and thread names and sort order), complete slices
//! (`"ph": "X"` with `ts` and `dur` in microseconds, as floats) and counters (`"ph": "C"`).
//!
//! - [`Trace`] collects events in any order and writes them sorted so that every track's
//!   timestamps are non-decreasing (metadata first, then by time, an enclosing slice before the
//!   slices it contains);
//! - [`validate`] checks a trace file's text against the format (used by the tests);
//! - [`system`] turns one replayed scenario combination into tracks of tiles, clusters and
//!   interconnect links (`hetsim run --trace`);
//! - [`instructions`] records one kernel run's issued instructions per core
//!   (`hetsim kernel --trace-instructions`).
//!
//! It knows nothing about the simulation's internals beyond what those two builders read; the
//! untraced paths never call into it.

pub mod instructions;
pub mod system;
mod validate;

pub use validate::{validate, TraceSummary};

use crate::error::Error;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// A process id of the trace (a group of tracks, e.g. one scenario combination).
pub type Pid = u32;
/// A thread id within a process (one track).
pub type Tid = u32;

/// One trace event, kept until the trace is written.
#[derive(Debug, Clone)]
enum Event {
    Meta {
        name: &'static str,
        pid: Pid,
        tid: Option<Tid>,
        args: Value,
    },
    Complete {
        name: String,
        cat: &'static str,
        pid: Pid,
        tid: Tid,
        ts: f64,
        dur: f64,
        args: Option<Value>,
    },
    Counter {
        name: String,
        pid: Pid,
        ts: f64,
        values: Vec<(String, f64)>,
    },
}

impl Event {
    fn ts(&self) -> f64 {
        match self {
            Event::Meta { .. } => f64::NEG_INFINITY,
            Event::Complete { ts, .. } | Event::Counter { ts, .. } => *ts,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Event::Meta {
                name,
                pid,
                tid,
                args,
            } => {
                let mut m = Map::new();
                m.insert("name".into(), json!(name));
                m.insert("ph".into(), json!("M"));
                m.insert("pid".into(), json!(pid));
                if let Some(t) = tid {
                    m.insert("tid".into(), json!(t));
                }
                m.insert("args".into(), args.clone());
                Value::Object(m)
            }
            Event::Complete {
                name,
                cat,
                pid,
                tid,
                ts,
                dur,
                args,
            } => {
                let mut m = Map::new();
                m.insert("name".into(), json!(name));
                m.insert("cat".into(), json!(cat));
                m.insert("ph".into(), json!("X"));
                m.insert("pid".into(), json!(pid));
                m.insert("tid".into(), json!(tid));
                m.insert("ts".into(), json!(ts));
                m.insert("dur".into(), json!(dur));
                if let Some(a) = args {
                    m.insert("args".into(), a.clone());
                }
                Value::Object(m)
            }
            Event::Counter {
                name,
                pid,
                ts,
                values,
            } => {
                let args: Map<String, Value> =
                    values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                json!({"name": name, "ph": "C", "pid": pid, "ts": ts, "args": args})
            }
        }
    }
}

/// Converts picoseconds (the engine's time) to the format's microseconds.
pub fn ps_to_us(ps: u64) -> f64 {
    ps as f64 / 1e6
}

/// A trace being built. Events may be added in any order; [`Trace::to_json`] sorts them.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    events: Vec<Event>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names process `pid` and sets its position among processes (lower first).
    pub fn process(&mut self, pid: Pid, name: &str, sort_index: i64) {
        self.events.push(Event::Meta {
            name: "process_name",
            pid,
            tid: None,
            args: json!({ "name": name }),
        });
        self.events.push(Event::Meta {
            name: "process_sort_index",
            pid,
            tid: None,
            args: json!({ "sort_index": sort_index }),
        });
    }

    /// Names track `tid` of process `pid` and sets its position within the process.
    pub fn thread(&mut self, pid: Pid, tid: Tid, name: &str, sort_index: i64) {
        self.events.push(Event::Meta {
            name: "thread_name",
            pid,
            tid: Some(tid),
            args: json!({ "name": name }),
        });
        self.events.push(Event::Meta {
            name: "thread_sort_index",
            pid,
            tid: Some(tid),
            args: json!({ "sort_index": sort_index }),
        });
    }

    /// Adds a complete slice (`"ph": "X"`) from `ts_us` lasting `dur_us` microseconds; a
    /// negative or non-finite duration is stored as 0.
    #[allow(clippy::too_many_arguments)]
    pub fn slice(
        &mut self,
        pid: Pid,
        tid: Tid,
        name: impl Into<String>,
        cat: &'static str,
        ts_us: f64,
        dur_us: f64,
        args: Option<Value>,
    ) {
        let dur = if dur_us.is_finite() && dur_us > 0.0 {
            dur_us
        } else {
            0.0
        };
        self.events.push(Event::Complete {
            name: name.into(),
            cat,
            pid,
            tid,
            ts: ts_us,
            dur,
            args,
        });
    }

    /// Sets counter `name` of process `pid` to `values` (one series per entry) from `ts_us` on.
    pub fn counter(
        &mut self,
        pid: Pid,
        name: impl Into<String>,
        ts_us: f64,
        values: &[(&str, f64)],
    ) {
        self.events.push(Event::Counter {
            name: name.into(),
            pid,
            ts: ts_us,
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        });
    }

    /// Number of slices and counter samples added (metadata not counted).
    pub fn len(&self) -> usize {
        self.events
            .iter()
            .filter(|e| !matches!(e, Event::Meta { .. }))
            .count()
    }

    /// True when no slice or counter sample was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The trace as JSON text: metadata first, then events by time (an enclosing slice before
    /// the slices it contains), so every track's timestamps are non-decreasing.
    pub fn to_json(&self) -> Result<String, Error> {
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        let dur = |e: &Event| match e {
            Event::Complete { dur, .. } => *dur,
            _ => 0.0,
        };
        order.sort_by(|&a, &b| {
            let (ea, eb) = (&self.events[a], &self.events[b]);
            ea.ts()
                .total_cmp(&eb.ts())
                .then(dur(eb).total_cmp(&dur(ea)))
                .then(a.cmp(&b))
        });
        let events: Vec<Value> = order.iter().map(|&i| self.events[i].to_json()).collect();
        let doc = json!({ "traceEvents": events, "displayTimeUnit": "ns" });
        serde_json::to_string(&doc).map_err(|e| Error::Serialise(e.to_string()))
    }

    /// Writes the trace to `path`.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.to_json()?).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Assigns slices of one logical track to lanes so that no two slices of a lane overlap
/// partially (Perfetto requires slices of a track to nest). Feed slices sorted by start.
#[derive(Debug, Clone, Default)]
pub struct Lanes {
    ends: Vec<u64>,
}

impl Lanes {
    /// The lane (0 first) for a slice from `start` to `end`: the first lane free by `start`.
    pub fn place(&mut self, start: u64, end: u64) -> usize {
        for (i, e) in self.ends.iter_mut().enumerate() {
            if *e <= start {
                *e = end;
                return i;
            }
        }
        self.ends.push(end);
        self.ends.len() - 1
    }

    /// Lanes used so far.
    pub fn count(&self) -> usize {
        self.ends.len()
    }
}

/// Keeps slices by a time window and a name filter (`--trace-window`, `--trace-filter`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFilter {
    /// Keep only work whose label contains this text (e.g. `encoder.layer.3/`).
    pub label: Option<String>,
    /// Keep only slices that overlap this window, in microseconds (either end open).
    pub window_us: (Option<f64>, Option<f64>),
}

impl TraceFilter {
    /// Parses `START_US:END_US` (either side may be empty) into a window.
    pub fn parse_window(s: &str) -> Result<(Option<f64>, Option<f64>), Error> {
        let bad = |m: String| Error::Usage {
            option: "--trace-window".into(),
            message: m,
        };
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| bad(format!("{s:?} is not START_US:END_US (e.g. 0:250 or 100:)")))?;
        let num = |v: &str| -> Result<Option<f64>, Error> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                _ => Err(bad(format!(
                    "{v:?} in {s:?} is not a non-negative number of microseconds"
                ))),
            }
        };
        let (a, b) = (num(a)?, num(b)?);
        if let (Some(x), Some(y)) = (a, b) {
            if y < x {
                return Err(bad(format!("{s:?}: the end is before the start")));
            }
        }
        Ok((a, b))
    }

    /// True when a slice from `start_us` to `end_us` overlaps the window (a zero-length slice
    /// on a window edge counts).
    pub fn in_window(&self, start_us: f64, end_us: f64) -> bool {
        self.window_us.0.is_none_or(|w0| end_us >= w0)
            && self.window_us.1.is_none_or(|w1| start_us <= w1)
    }

    /// True when `label` passes the name filter.
    pub fn matches(&self, label: &str) -> bool {
        self.label.as_deref().is_none_or(|f| label.contains(f))
    }
}

/// Names of the tracks of a trace, by (pid, tid), as a validator found them.
pub type TrackNames = BTreeMap<(Pid, Tid), String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_traces_are_sorted_and_valid() {
        let mut t = Trace::new();
        t.process(1, "p", 0);
        t.thread(1, 0, "a", 0);
        // Added out of order; the enclosing slice (same start, longer) must come first.
        t.slice(1, 0, "late", "x", 5.0, 1.0, None);
        t.slice(1, 0, "inner", "x", 1.0, 1.0, None);
        t.slice(1, 0, "outer", "x", 1.0, 3.0, Some(json!({"k": 1})));
        t.counter(1, "c", 2.0, &[("v", 3.0)]);
        t.counter(1, "c", 0.0, &[("v", 1.0)]);
        let text = t.to_json().unwrap();
        let s = validate(&text).unwrap();
        assert_eq!(s.slices, 3);
        assert_eq!(s.counter_samples, 2);
        let outer = text.find("outer").unwrap();
        assert!(
            outer < text.find("inner").unwrap()
                && text.find("inner").unwrap() < text.find("late").unwrap()
        );
    }

    #[test]
    fn lanes_avoid_partial_overlap() {
        let mut l = Lanes::default();
        assert_eq!(l.place(0, 10), 0);
        assert_eq!(l.place(5, 12), 1);
        assert_eq!(l.place(10, 20), 0);
        assert_eq!(l.count(), 2);
    }

    #[test]
    fn windows_parse_and_filter() {
        assert_eq!(
            TraceFilter::parse_window("1.5:20").unwrap(),
            (Some(1.5), Some(20.0))
        );
        assert_eq!(
            TraceFilter::parse_window(":20").unwrap(),
            (None, Some(20.0))
        );
        assert_eq!(TraceFilter::parse_window("3:").unwrap(), (Some(3.0), None));
        for bad in ["12", "a:b", "5:1", "-1:2"] {
            let e = TraceFilter::parse_window(bad).unwrap_err().to_string();
            assert!(e.starts_with("--trace-window"), "{e}");
        }
        let f = TraceFilter {
            label: Some("layer.3/".into()),
            window_us: (Some(10.0), Some(20.0)),
        };
        assert!(f.in_window(5.0, 10.0) && f.in_window(20.0, 30.0) && !f.in_window(21.0, 22.0));
        assert!(f.matches("encoder.layer.3/query") && !f.matches("encoder.layer.13/query"));
    }
}
