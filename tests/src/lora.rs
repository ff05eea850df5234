//! Running the multi-core `lora` kernel (kernels/build/lora.elf) on the cluster with bound
//! inputs, and the host reference it must match bit for bit (the kernel documents its fp32
//! evaluation order: one fused multiply-add per step, round to nearest even).

use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use rand::{Rng, SeedableRng};

/// A LoRA problem: Y = XW + (X A) B with X: t x in, XW: t x out, A: in x r, B: r x out.
#[derive(Clone, Debug)]
pub struct LoraCase {
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
    /// Rank.
    pub r: usize,
    /// Tokens.
    pub t: usize,
    /// t x in.
    pub x: Vec<f32>,
    /// t x out.
    pub xw: Vec<f32>,
    /// in x r.
    pub a: Vec<f32>,
    /// r x out.
    pub b: Vec<f32>,
}

impl LoraCase {
    /// Random data from `seed`: X ~ U(-1, 1), XW ~ U(-1, 1), A, B ~ U(-0.1, 0.1).
    pub fn random(d_in: usize, d_out: usize, r: usize, t: usize, seed: u64) -> LoraCase {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v =
            |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-s..s)).collect() };
        LoraCase {
            x: v(t * d_in, 1.0),
            xw: v(t * d_out, 1.0),
            a: v(d_in * r, 0.1),
            b: v(r * d_out, 0.1),
            d_in,
            d_out,
            r,
            t,
        }
    }

    /// The host reference in the kernel's evaluation order.
    pub fn reference(&self) -> Vec<f32> {
        let (n, o, r) = (self.d_in, self.d_out, self.r);
        let mut y = self.xw.clone();
        for tok in 0..self.t {
            let mut h = vec![0f32; r];
            for (k, hk) in h.iter_mut().enumerate() {
                for i in 0..n {
                    *hk = self.x[tok * n + i].mul_add(self.a[i * r + k], *hk);
                }
            }
            for j in 0..o {
                let yj = &mut y[tok * o + j];
                for (k, hk) in h.iter().enumerate() {
                    *yj = hk.mul_add(self.b[k * o + j], *yj);
                }
            }
        }
        y
    }
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Runs `lora.elf` on a cluster with the case's data bound to the kernel's symbols; returns
/// the report and Y.
pub fn run_lora(
    program: &Program,
    cfg: &ClusterConfig,
    case: &LoraCase,
) -> Result<(ClusterReport, Vec<f32>), String> {
    let mut c = Cluster::new(cfg, program).map_err(|e| e.to_string())?;
    let shape: Vec<u8> = [case.d_in, case.d_out, case.r, case.t]
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect();
    let bind = |c: &mut Cluster, s: &str, b: &[u8]| c.write_symbol(s, b).map_err(|e| e.to_string());
    bind(&mut c, "lora_shape", &shape)?;
    bind(&mut c, "lora_check", &0u32.to_le_bytes())?;
    bind(&mut c, "lora_X", &bytes(&case.x))?;
    bind(&mut c, "lora_XW", &bytes(&case.xw))?;
    bind(&mut c, "lora_A", &bytes(&case.a))?;
    bind(&mut c, "lora_B", &bytes(&case.b))?;
    let report = c.run().map_err(|e| e.to_string())?;
    let y = c
        .read_symbol("lora_Y", Some((4 * case.t * case.d_out) as u32))
        .map_err(|e| e.to_string())?
        .chunks_exact(4)
        .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    Ok((report, y))
}
