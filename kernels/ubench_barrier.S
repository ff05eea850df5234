/* ubench_barrier - back-to-back hardware barriers on every core (hetsim cluster).
 *
 * All N cores (compute and DMA) run ubench_iters iterations of one barrier load. Every core
 * enters the region right after a barrier (same cycle on all cores). Two passes over the same
 * code: region 101 (cold) then region 1 (warm). Final barrier; hart 0 returns 0 (exit 0).
 *
 * Registers: a5 = PERIPH_BASE (BARRIER at 8(a5)), a2 = ubench_iters, t2 = region id,
 * t0 = loop counter.
 *
 * Measured region (exact instruction sequence, on every core):
 *     sw      t2, 16(a5)              # REGION_BEGIN id
 *   1: lw      t1, 8(a5)              # barrier: returns when all N cores have loaded it
 *     addi    t0, t0, -1
 *     bnez    t0, 1b                  # taken ubench_iters - 1 times
 *     sw      t2, 20(a5)              # REGION_END id
 * Per iteration: 3 instructions, one of them a barrier; B = ubench_iters barriers. Each
 * barrier releases every core together, so each iteration costs the barrier's round trip
 * (release latency) plus the addi, the taken bnez and the load issue.
 */
#include "hetsim.h"

    .data
    .balign 4
    .globl ubench_iters
    .type ubench_iters, @object
ubench_iters:
    .word   64                          /* barriers: B = 64 */
    .size ubench_iters, 4

    .text
    .balign 4
    .globl main
    .type main, @function
main:
    li      a5, HETSIM_PERIPH_BASE
    la      t0, ubench_iters
    lw      a2, 0(t0)
    li      a6, 100                     /* pass 1: ids 100 + n (cold), pass 2: ids n (warm) */
.Lpass:
    mv      t0, a2
    addi    t2, a6, 1
    lw      t1, 8(a5)                   /* barrier: enter together */
    sw      t2, 16(a5)                  /* REGION_BEGIN */
1:  lw      t1, 8(a5)
    addi    t0, t0, -1
    bnez    t0, 1b
    sw      t2, 20(a5)                  /* REGION_END */
    beqz    a6, .Lfinal
    li      a6, 0
    j       .Lpass
.Lfinal:
    lw      t0, 8(a5)                   /* final barrier: every core */
    li      a0, 0
    ret
    .size main, . - main
