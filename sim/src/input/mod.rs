//! What a run reads: the scenario file (`scenario`: RON, validation, sweep combinations) and the
//! workload it names (`workload`: layer schedules, generated models, LoRA choices).

pub mod scenario;
pub mod workload;
