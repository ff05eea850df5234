/* ubench_dma - DMA transfers L2 -> TCDM driven by the DMA core (hetsim cluster).
 *
 * The DMA core (N-1) runs, in two regions, ubench_iters transfers each, every one programmed,
 * started and waited for before the next:
 *   region 1 (1-D): ubench_dma_size bytes (default 4096) from ubench_dma_src (L2) to
 *     ubench_dma_dst (TCDM);
 *   region 2 (2-D): ubench_dma_rows rows (default 32) of ubench_dma_row bytes (default 128),
 *     source stride ubench_dma_src_stride (default 256: every other 128-byte row of the L2
 *     buffer), destination stride ubench_dma_dst_stride (default 128: packed in TCDM).
 * The compute cores wait at the final barrier. Two passes over the same code: regions 101, 102
 * (cold) then 1, 2 (warm). Final barrier; hart 0 returns 0 (exit 0).
 * Limits: 1-D size and rows * dst_stride <= 32768 (ubench_dma_dst, .tcdm), rows * src_stride
 * <= 65536 (ubench_dma_src, .l2_noinit: neither is initialised; the data are not checked).
 *
 * Registers: a5 = PERIPH_BASE (DMA registers at 0x400(a5) ..), t0 = loop counter, t2 = region
 * id, a6 = pass (100, then 0), a0 = src, a1 = dst, a2 = iterations, a3 = size / row bytes,
 * a4 = rows, t1 = src stride, t6 = dst stride, t3 = 1.
 *
 * Measured region 1 (exact instruction sequence):
 *     sw      t2, 16(a5)              # REGION_BEGIN id
 *   1: sw      a0, 0x400(a5)          # DMA SRC
 *     sw      a1, 0x404(a5)           # DMA DST
 *     sw      a3, 0x408(a5)           # DMA SIZE
 *     sw      t3, 0x414(a5)           # DMA REPS = 1 (1-D)
 *     sw      zero, 0x418(a5)         # DMA START
 *     lw      t4, 0x41c(a5)           # LAST_ID
 *   2: lw      t5, 0x420(a5)          # DONE_ID
 *     bltu    t5, t4, 2b              # poll until DONE_ID >= id
 *     addi    t0, t0, -1
 *     bnez    t0, 1b                  # taken ubench_iters - 1 times
 *     sw      t2, 20(a5)              # REGION_END id
 * Measured region 2:
 *     sw      t2, 16(a5)              # REGION_BEGIN id
 *   3: sw      a0, 0x400(a5)          # SRC
 *     sw      a1, 0x404(a5)           # DST
 *     sw      a3, 0x408(a5)           # SIZE = bytes per row
 *     sw      t1, 0x40c(a5)           # SRC_STRIDE
 *     sw      t6, 0x410(a5)           # DST_STRIDE
 *     sw      a4, 0x414(a5)           # REPS = rows
 *     sw      zero, 0x418(a5)         # START
 *     lw      t4, 0x41c(a5)           # LAST_ID
 *   4: lw      t5, 0x420(a5)          # DONE_ID
 *     bltu    t5, t4, 4b
 *     addi    t0, t0, -1
 *     bnez    t0, 3b
 *     sw      t2, 20(a5)              # REGION_END id
 * Per transfer: the setup instructions, then the poll loop (2 instructions per poll) runs
 * until the transfer's completion is visible.
 */
#include "hetsim.h"

    .data
    .balign 4
    .globl ubench_iters
ubench_iters:          .word 4          /* transfers per region */
    .globl ubench_dma_size
ubench_dma_size:       .word 4096       /* 1-D bytes */
    .globl ubench_dma_rows
ubench_dma_rows:       .word 32         /* 2-D rows */
    .globl ubench_dma_row
ubench_dma_row:        .word 128        /* 2-D bytes per row */
    .globl ubench_dma_src_stride
ubench_dma_src_stride: .word 256
    .globl ubench_dma_dst_stride
ubench_dma_dst_stride: .word 128

    .section .l2_noinit, "aw", @nobits
    .balign 64
    .globl ubench_dma_src
    .type ubench_dma_src, @object
ubench_dma_src:
    .zero   65536
    .size ubench_dma_src, 65536

    .section .tcdm, "aw", @nobits
    .balign 64
    .globl ubench_dma_dst
    .type ubench_dma_dst, @object
ubench_dma_dst:
    .zero   32768
    .size ubench_dma_dst, 32768

    .text
    .balign 4
    .globl main
    .type main, @function
main:
    li      a5, HETSIM_PERIPH_BASE
    addi    t0, a1, -1
    bne     a0, t0, .Lfinal             /* compute cores: straight to the final barrier */
    la      a0, ubench_dma_src
    la      a1, ubench_dma_dst
    la      t0, ubench_iters
    lw      a2, 0(t0)
    li      t3, 1
    li      a6, 100                     /* pass 1: ids 100 + n (cold), pass 2: ids n (warm) */
.Lpass:
    /* region 1 + a6: 1-D */
    la      t0, ubench_dma_size
    lw      a3, 0(t0)
    mv      t0, a2
    addi    t2, a6, 1
    sw      t2, 16(a5)                  /* REGION_BEGIN */
1:  sw      a0, 0x400(a5)               /* SRC */
    sw      a1, 0x404(a5)               /* DST */
    sw      a3, 0x408(a5)               /* SIZE */
    sw      t3, 0x414(a5)               /* REPS = 1 */
    sw      zero, 0x418(a5)             /* START */
    lw      t4, 0x41c(a5)               /* LAST_ID */
2:  lw      t5, 0x420(a5)               /* DONE_ID */
    bltu    t5, t4, 2b
    addi    t0, t0, -1
    bnez    t0, 1b
    sw      t2, 20(a5)                  /* REGION_END */

    /* region 2 + a6: 2-D */
    la      t0, ubench_dma_row
    lw      a3, 0(t0)
    la      t0, ubench_dma_rows
    lw      a4, 0(t0)
    la      t0, ubench_dma_src_stride
    lw      t1, 0(t0)
    la      t0, ubench_dma_dst_stride
    lw      t6, 0(t0)
    mv      t0, a2
    addi    t2, a6, 2
    sw      t2, 16(a5)                  /* REGION_BEGIN */
3:  sw      a0, 0x400(a5)               /* SRC */
    sw      a1, 0x404(a5)               /* DST */
    sw      a3, 0x408(a5)               /* SIZE = bytes per row */
    sw      t1, 0x40c(a5)               /* SRC_STRIDE */
    sw      t6, 0x410(a5)               /* DST_STRIDE */
    sw      a4, 0x414(a5)               /* REPS = rows */
    sw      zero, 0x418(a5)             /* START */
    lw      t4, 0x41c(a5)               /* LAST_ID */
4:  lw      t5, 0x420(a5)               /* DONE_ID */
    bltu    t5, t4, 4b
    addi    t0, t0, -1
    bnez    t0, 3b
    sw      t2, 20(a5)                  /* REGION_END */
    beqz    a6, .Lfinal
    li      a6, 0
    j       .Lpass
.Lfinal:
    lw      t0, 8(a5)                   /* final barrier: every core */
    li      a0, 0
    ret
    .size main, . - main
