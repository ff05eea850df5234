//! What produces times and numbers: the cluster `backend`s (analytic model, kernels on the
//! cycle-level cluster, `lora_kernel`, `lora_f16_kernel`), the discrete-event `engine`, the task
//! graph `replay`, the `numerics` (the analog tiles and clusters on data) and the `accuracy` of a
//! real model on them.

pub mod accuracy;
pub mod attn_kernel;
pub mod backend;
pub mod dyn_kernel;
pub mod engine;
pub mod kernel_image;
pub mod lora_f16_kernel;
pub mod lora_kernel;
pub mod numerics;
pub mod replay;
