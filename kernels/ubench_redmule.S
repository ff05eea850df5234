/* ubench_redmule - one FP16 GEMM Z = X W + Z on the cluster's RedMulE engine (hetsim cluster
 * with `redmule: Some(..)`, e.g. models/presets/cluster-snitch-study.ron).
 *
 * Core 0 programs the engine (registers at HETSIM_REDMULE_BASE, docs/redmule.md) with
 * M x N x K from `ubench_gemm_dims` (u32 M, N, K; default 128, 128, 128) and operands packed in
 * TCDM from its base: X (M x N) at TCDM_BASE, W (N x K) after it, Z (M x K) after W, all fp16
 * (3 x 32 KiB for the default; the 128 KiB TCDM also holds the stacks at its top). TCDM
 * starts zeroed, so the data are zeros; only the timing matters here. It waits for a free job
 * context (ACQUIRE >= 0), writes the pointers, MCFG0 = (K << 16) | M, MCFG1 = N, ARITH = GEMM,
 * FP16, marks region 1, TRIGGERs, polls STATUS until the engine is idle and ends region 1.
 * Every other core waits at the final barrier. `hetsim kernel` prints the engine's MACs per
 * cycle and its share of the FMA array's peak.
 */
#include "hetsim.h"

    .data
    .balign 4
    .globl ubench_gemm_dims
    .type ubench_gemm_dims, @object
ubench_gemm_dims:
    .word   128, 128, 128               /* M, N, K */
    .size ubench_gemm_dims, 12

    .text
    .balign 4
    .globl main
    .type main, @function
main:
    li      a5, HETSIM_PERIPH_BASE
    bnez    a0, .Lfinal                 /* only core 0 drives the engine */
    li      a4, HETSIM_REDMULE_BASE
    la      t0, ubench_gemm_dims
    lw      a1, 0(t0)                   /* M */
    lw      a2, 4(t0)                   /* N */
    lw      a3, 8(t0)                   /* K */
    li      t1, HETSIM_TCDM_BASE        /* X */
    mul     t2, a1, a2
    slli    t2, t2, 1
    add     t2, t1, t2                  /* W = X + 2 M N */
    mul     t3, a2, a3
    slli    t3, t3, 1
    add     t3, t2, t3                  /* Z = W + 2 N K */
1:  lw      t4, 4(a4)                   /* ACQUIRE: a job context id, or < 0 */
    bltz    t4, 1b
    sw      t1, 0x40(a4)                /* X_ADDR */
    sw      t2, 0x44(a4)                /* W_ADDR */
    sw      t3, 0x48(a4)                /* Z_ADDR (bias and result) */
    slli    t4, a3, 16
    or      t4, t4, a1
    sw      t4, 0x4c(a4)                /* MCFG0 = (K << 16) | M */
    sw      a2, 0x50(a4)                /* MCFG1 = N */
    li      t4, (1 << 10) | (1 << 7)    /* ARITH: op 1 = GEMM, format 1 = FP16 */
    sw      t4, 0x54(a4)
    li      t5, 1
    sw      t5, 16(a5)                  /* REGION_BEGIN 1 */
    sw      zero, 0(a4)                 /* TRIGGER */
2:  lw      t4, 0x0c(a4)                /* STATUS: non-zero while busy */
    bnez    t4, 2b
    sw      t5, 20(a5)                  /* REGION_END 1 */
.Lfinal:
    lw      t0, 8(a5)                   /* final barrier: every core */
    li      a0, 0
    ret
    .size main, . - main
