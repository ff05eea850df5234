/* ubench_fma_dep - latency of a chain of dependent fmadd.s on one core (hetsim cluster).
 *
 * Core 0 runs K = 8 * ubench_iters fmadd.s, each using the previous result (ft0); every other
 * core goes straight to the final barrier. Two passes over the same code: region 101 (cold:
 * instruction-cache misses included) then region 1 (warm). After the final barrier (all cores)
 * hart 0 returns 0 (exit 0).
 *
 * Registers: a5 = PERIPH_BASE (barrier 8(a5), REGION_BEGIN 16(a5), REGION_END 20(a5)),
 * a2 = ubench_iters, t2 = region id, t0 = loop counter; ft0 = ft1 = ft2 = +0.0.
 *
 * Measured region (exact instruction sequence):
 *     sw      t2, 16(a5)              # REGION_BEGIN id
 *   1: fmadd.s ft0, ft1, ft2, ft0     # x 8, each depends on the previous one through ft0
 *     addi    t0, t0, -1
 *     bnez    t0, 1b                  # taken ubench_iters - 1 times, then falls through
 *     fmv.x.w t1, ft0                 # waits for the last fmadd.s (RAW on ft0)
 *     andi    t1, t1, 0               # waits for fmv.x.w (RAW on t1) ...
 *     add     t1, t1, t2              # ... so the END store below depends on the chain
 *     sw      t1, 20(a5)              # REGION_END id
 * Per iteration: 8 fmadd.s (dependent) + addi + bnez = 10 instructions; 8 * iters + 2 * iters +
 * 5 instructions in the region (counting both marker stores), 8 * iters of them fmadd.s.
 * With FMA latency L and a decoupled FPU, the chain costs about K * L cycles when 8 * L exceeds
 * the 10 issue slots (+ taken-branch cost) of an iteration.
 */
#include "hetsim.h"

    .data
    .balign 4
    .globl ubench_iters
    .type ubench_iters, @object
ubench_iters:
    .word   64                          /* iterations of 8 fmadd.s: K = 512 */
    .size ubench_iters, 4

    .text
    .balign 4
    .globl main
    .type main, @function
main:
    li      a5, HETSIM_PERIPH_BASE
    bnez    a0, .Lfinal                 /* only core 0 measures */
    la      t0, ubench_iters
    lw      a2, 0(t0)
    fmv.w.x ft0, zero
    fmv.w.x ft1, zero
    fmv.w.x ft2, zero
    li      a6, 100                     /* pass 1: ids 100 + n (cold), pass 2: ids n (warm) */
.Lpass:
    mv      t0, a2
    addi    t2, a6, 1
    sw      t2, 16(a5)                  /* REGION_BEGIN */
1:  fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    fmadd.s ft0, ft1, ft2, ft0
    addi    t0, t0, -1
    bnez    t0, 1b
    fmv.x.w t1, ft0
    andi    t1, t1, 0
    add     t1, t1, t2
    sw      t1, 20(a5)                  /* REGION_END */
    beqz    a6, .Lfinal
    li      a6, 0
    j       .Lpass
.Lfinal:
    lw      t0, 8(a5)                   /* final barrier: every core */
    li      a0, 0
    ret
    .size main, . - main
