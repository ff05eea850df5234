/* hetsim cluster C run-time start-up (M-mode, no OS) for `hetsim kernel --cluster`, with
 * link-cluster.ld.
 *
 * Every core starts here at cycle 0 with mhartid = its index 0..N-1 (core N-1 is the DMA core).
 * _start (in .text.init, the first thing at 0x80000000), on every hart:
 *   1. gp = __global_pointer$ (relaxation off),
 *   2. sp = TCDM_END - hartid * HETSIM_STACK_PER_HART (TCDM_END read from its register): each
 *      hart owns the 1024 bytes below its sp; stacks are 16-byte aligned as TCDM_END is,
 *   3. mtvec = the trap handler (same policy as crt0.S: ecall with a7 = 93 exits with a0, any
 *      other trap exits with 128 + mcause),
 *   4. FPU on (mstatus.FS = Initial), fcsr = 0 (RNE, no flags),
 *   5. hart 0 zeroes .bss/.sbss (L2, __bss_start .. __bss_end, 16-byte aligned) while the others
 *      wait; then all harts meet at one barrier (so every hart takes part in it),
 *   6. main(hartid, num_cores) on every hart (a0 = hartid, a1 = NUM_CORES register),
 *   7. when main returns: hart 0 exits with main's return value through tohost
 *      ((code << 1) | 1); every other hart sleeps (`wfi` in a loop) and takes no further part
 *      in barriers.
 *
 * So main must end with a barrier on all cores before hart 0 returns whenever the other cores'
 * work matters (hart 0's return ends the run at once), and no hart may return from main while
 * others still expect it at a barrier (a sleeping core never arrives: deadlock).
 *
 * .l2_noinit (link-cluster.ld) is not zeroed; .tcdm starts zeroed because TCDM does.
 */
#include "hetsim.h"

#define MSTATUS_FS_INITIAL (1 << 13)

    .section .text.init, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop

    csrr    s0, mhartid
    li      t0, HETSIM_TCDM_END_ADDR
    lw      t1, 0(t0)                   /* TCDM_END */
    li      t2, HETSIM_STACK_PER_HART
    mul     t2, s0, t2
    sub     sp, t1, t2                  /* sp = TCDM_END - hartid * STACK_PER_HART */

    la      t0, __hetsim_trap
    csrw    mtvec, t0

    li      t0, MSTATUS_FS_INITIAL
    csrs    mstatus, t0
    csrwi   fcsr, 0

    bnez    s0, 2f                      /* only hart 0 zeroes .bss */
    la      t0, __bss_start
    la      t1, __bss_end
    bgeu    t0, t1, 2f
1:  sw      zero, 0(t0)
    sw      zero, 4(t0)
    sw      zero, 8(t0)
    sw      zero, 12(t0)
    addi    t0, t0, 16
    bltu    t0, t1, 1b
2:
    li      t0, HETSIM_BARRIER_ADDR
    lw      t1, 0(t0)                   /* barrier: .bss is zero for everybody */

    li      t0, HETSIM_NUM_CORES_ADDR
    lw      a1, 0(t0)
    mv      a0, s0
    call    main

    csrr    t0, mhartid
    beqz    t0, .Lexit
3:  wfi                                 /* harts != 0: done, sleep (no interrupts: forever) */
    j       3b

    /* exit(a0) through tohost */
.Lexit:
    slli    a0, a0, 1
    ori     a0, a0, 1
    la      t0, tohost
    sw      zero, 4(t0)
    sw      a0, 0(t0)
4:  j       4b
    .size _start, . - _start

    /* Trap: ecall with a7 = 93 -> exit(a0); anything else -> exit(128 + mcause). Whichever
     * core traps ends the run. mtvec must be 4-byte aligned (direct mode). hetsim's cluster
     * stops at the trap by default (traps: Stop) and, with traps: Architectural, treats this
     * handler (found by its symbol) as none: the trap is reported with cause, mtval, pc,
     * symbol and line instead of becoming an exit code (docs/debugging.md). */
    .text
    .balign 4
    .globl __hetsim_trap
    .type __hetsim_trap, @function
__hetsim_trap:
    csrr    t0, mcause
    li      t1, 93
    bne     a7, t1, 1f
    li      t1, 11                      /* ecall from M-mode with a7 = 93: exit(a0) */
    beq     t0, t1, .Lexit
    li      t1, 8                       /* (or from U-mode) */
    beq     t0, t1, .Lexit
1:  addi    a0, t0, 128
    j       .Lexit
    .size __hetsim_trap, . - __hetsim_trap

    .section .tohost, "aw", @progbits
    .balign 64
    .globl tohost
    .type tohost, @object
tohost:
    .word   0, 0
    .size tohost, 8
    .balign 64
    .globl fromhost
    .type fromhost, @object
fromhost:
    .word   0, 0
    .size fromhost, 8
