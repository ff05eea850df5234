//! How results are shown: `plot` (SVG/PNG), `html` (the self-contained report page),
//! `profile` (exact flat profiles of a kernel run per function and core),
//! `trace_event` (Chrome/Perfetto timelines of a run or a kernel) and `diag` (source excerpts
//! for errors at a file position).

pub mod diag;
pub mod html;
pub mod plot;
pub mod profile;
pub mod trace_event;
