/* ubench_bank - TCDM bank conflicts: every compute core loads from one bank, then each core
 * from its own bank (hetsim cluster).
 *
 * Compute cores (0 .. N-2) each run ubench_iters iterations of 8 `lw`, in two regions:
 *   region 1 (same bank): core i loads the word at TCDM_BASE + 1024 * i. These words are
 *     1024 bytes (256 words) apart, so they all fall in bank 0 for any power-of-two bank count
 *     up to 256 (bank = (addr >> 2) % banks); each core hits its own word (no same-word
 *     merging can hide the conflict).
 *   region 2 (own bank): core i loads the word at TCDM_BASE + 4 * i: bank i, one core per bank
 *     (while N - 1 <= banks).
 * The DMA core (N-1) only takes part in the barriers. Every region starts right after a
 * barrier, so all cores enter it in the same cycle. Two passes over the same code: regions
 * 101, 102 (cold) then 1, 2 (warm). Final barrier; hart 0 returns 0 (exit 0).
 * Buffer: ubench_bank_buf in .tcdm, 16 KiB (covers 16 compute cores at 1024 bytes).
 *
 * Registers: a5 = PERIPH_BASE, a2 = ubench_iters, a0 = same-bank address, a1 = own-bank
 * address, t2 = region id, t0 = loop counter; the 8 loads write t1, t3, t4, t5, t6, a3, a4, a7
 * (all distinct: no WAW between them).
 *
 * Measured region 1 (region 2 identical with a1 in place of a0 and label 2); the barrier
 * `lw t1, 8(a5)` and `mv t0, a2`, `addi t2, a6, 1` come just before it, outside:
 *     sw      t2, 16(a5)              # REGION_BEGIN id
 *   1: lw      t1, 0(a0)
 *     lw      t3, 0(a0)
 *     lw      t4, 0(a0)
 *     lw      t5, 0(a0)
 *     lw      t6, 0(a0)
 *     lw      a3, 0(a0)
 *     lw      a4, 0(a0)
 *     lw      a7, 0(a0)
 *     addi    t0, t0, -1
 *     bnez    t0, 1b                  # taken ubench_iters - 1 times
 *     andi    t1, a7, 0               # waits for the last load (RAW on a7) ...
 *     add     t1, t1, t2              # ... so the END store depends on it
 *     sw      t1, 20(a5)              # REGION_END id
 * Per iteration: 8 lw + addi + bnez = 10 instructions; L = 8 * ubench_iters loads per core.
 * Without conflicts an iteration issues in 10 cycles (+ taken-branch cost); with P compute
 * cores on one bank the bank serves one load per cycle, so P cores need about P cycles per
 * load round in steady state.
 */
#include "hetsim.h"

    .data
    .balign 4
    .globl ubench_iters
    .type ubench_iters, @object
ubench_iters:
    .word   32                          /* iterations of 8 loads: L = 256 loads per core */
    .size ubench_iters, 4

    .section .tcdm, "aw", @nobits
    .balign 64
    .globl ubench_bank_buf
    .type ubench_bank_buf, @object
ubench_bank_buf:
    .zero   16384
    .size ubench_bank_buf, 16384

    .text
    .balign 4
    .globl main
    .type main, @function
main:
    li      a5, HETSIM_PERIPH_BASE
    addi    t0, a1, -1
    bgeu    a0, t0, .Ldma               /* hart N-1: the DMA core */
    la      t0, ubench_iters
    lw      a2, 0(t0)
    la      t0, ubench_bank_buf         /* = TCDM_BASE */
    slli    t1, a0, 10
    add     t1, t0, t1                  /* same bank: TCDM_BASE + 1024 * i */
    slli    a1, a0, 2
    add     a1, t0, a1                  /* own bank: TCDM_BASE + 4 * i */
    mv      a0, t1
    li      a6, 100                     /* pass 1: ids 100 + n (cold), pass 2: ids n (warm) */
.Lpass:
    /* region 1 + a6: same bank */
    mv      t0, a2
    addi    t2, a6, 1
    lw      t1, 8(a5)                   /* barrier */
    sw      t2, 16(a5)                  /* REGION_BEGIN */
1:  lw      t1, 0(a0)
    lw      t3, 0(a0)
    lw      t4, 0(a0)
    lw      t5, 0(a0)
    lw      t6, 0(a0)
    lw      a3, 0(a0)
    lw      a4, 0(a0)
    lw      a7, 0(a0)
    addi    t0, t0, -1
    bnez    t0, 1b
    andi    t1, a7, 0
    add     t1, t1, t2
    sw      t1, 20(a5)                  /* REGION_END */
    /* region 2 + a6: own bank */
    mv      t0, a2
    addi    t2, a6, 2
    lw      t1, 8(a5)                   /* barrier */
    sw      t2, 16(a5)                  /* REGION_BEGIN */
2:  lw      t1, 0(a1)
    lw      t3, 0(a1)
    lw      t4, 0(a1)
    lw      t5, 0(a1)
    lw      t6, 0(a1)
    lw      a3, 0(a1)
    lw      a4, 0(a1)
    lw      a7, 0(a1)
    addi    t0, t0, -1
    bnez    t0, 2b
    andi    t1, a7, 0
    add     t1, t1, t2
    sw      t1, 20(a5)                  /* REGION_END */
    beqz    a6, .Lfinal
    li      a6, 0
    j       .Lpass

.Ldma:                                  /* the DMA core: the 4 region barriers, then final */
    lw      t1, 8(a5)
    lw      t1, 8(a5)
    lw      t1, 8(a5)
    lw      t1, 8(a5)
.Lfinal:
    lw      t0, 8(a5)                   /* final barrier: every core */
    li      a0, 0
    ret
    .size main, . - main
