//! What a run reads: the scenario file (`scenario`: RON, validation, sweep combinations) and the
//! workload it names (`workload`: layer schedules, generated models, LoRA choices) with the model
//! weights it may load (`checkpoint`: safetensors).

pub mod checkpoint;
pub mod scenario;
pub mod workload;
