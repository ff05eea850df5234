//! What a run answers: `run` (every combination of a scenario measured against the pure-AIMC
//! baseline), its `report` rows, the `summary` (best t per integration time and strategy, the
//! headline), resumable, sharded `sweep`s, the task-`switch` comparison and the `split` of a
//! latency into static, dynamic, LoRA, link and wait time.

pub mod report;
pub mod run;
pub mod split;
pub mod summary;
pub mod sweep;
pub mod switch;
