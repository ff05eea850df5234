/* ubench_fma_indep - throughput of independent fmadd.s on one core (hetsim cluster).
 *
 * Core 0 runs K = 16 * ubench_iters fmadd.s over 8 independent accumulators ft0..ft7 in
 * round-robin order (two rounds per iteration), so an fmadd.s depends only on the one 8
 * instructions earlier (no dependence within any 8 consecutive fmadd.s). Every other core goes
 * straight to the final barrier. Two passes over the same code: region 101 (cold) then
 * region 1 (warm). After the final barrier hart 0 returns 0 (exit 0).
 *
 * Registers: a5 = PERIPH_BASE, a2 = ubench_iters, t2 = region id, t0 = loop counter;
 * ft0..ft7 = +0.0 (accumulators), fa0 = fa1 = +0.0 (multiplicands).
 *
 * Measured region (exact instruction sequence):
 *     sw      t2, 16(a5)              # REGION_BEGIN id
 *   1: fmadd.s ft0, fa0, fa1, ft0
 *     fmadd.s ft1, fa0, fa1, ft1
 *     ...                             # ft2 .. ft6 likewise
 *     fmadd.s ft7, fa0, fa1, ft7
 *     fmadd.s ft0, fa0, fa1, ft0      # second round, ft0 .. ft7 again
 *     ...
 *     fmadd.s ft7, fa0, fa1, ft7
 *     addi    t0, t0, -1
 *     bnez    t0, 1b                  # taken ubench_iters - 1 times
 *     fmv.x.w t1, ft7                 # waits for the last fmadd.s (the last one issued)
 *     andi    t1, t1, 0
 *     add     t1, t1, t2              # the END store depends on it
 *     sw      t1, 20(a5)              # REGION_END id
 * Per iteration: 16 fmadd.s + addi + bnez = 18 instructions. With FMA latency L <= 8 and one
 * FMA issued per cycle, no RAW stall occurs; the iteration is bound by its 18 issue slots
 * (+ taken-branch cost) unless the FPU queue fills.
 */
#include "hetsim.h"

    .data
    .balign 4
    .globl ubench_iters
    .type ubench_iters, @object
ubench_iters:
    .word   32                          /* iterations of 16 fmadd.s: K = 512 */
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
    fmv.w.x ft3, zero
    fmv.w.x ft4, zero
    fmv.w.x ft5, zero
    fmv.w.x ft6, zero
    fmv.w.x ft7, zero
    fmv.w.x fa0, zero
    fmv.w.x fa1, zero
    li      a6, 100                     /* pass 1: ids 100 + n (cold), pass 2: ids n (warm) */
.Lpass:
    mv      t0, a2
    addi    t2, a6, 1
    sw      t2, 16(a5)                  /* REGION_BEGIN */
1:  fmadd.s ft0, fa0, fa1, ft0
    fmadd.s ft1, fa0, fa1, ft1
    fmadd.s ft2, fa0, fa1, ft2
    fmadd.s ft3, fa0, fa1, ft3
    fmadd.s ft4, fa0, fa1, ft4
    fmadd.s ft5, fa0, fa1, ft5
    fmadd.s ft6, fa0, fa1, ft6
    fmadd.s ft7, fa0, fa1, ft7
    fmadd.s ft0, fa0, fa1, ft0
    fmadd.s ft1, fa0, fa1, ft1
    fmadd.s ft2, fa0, fa1, ft2
    fmadd.s ft3, fa0, fa1, ft3
    fmadd.s ft4, fa0, fa1, ft4
    fmadd.s ft5, fa0, fa1, ft5
    fmadd.s ft6, fa0, fa1, ft6
    fmadd.s ft7, fa0, fa1, ft7
    addi    t0, t0, -1
    bnez    t0, 1b
    fmv.x.w t1, ft7
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
