/* hetsim C run-time start-up for bare-metal RV32IMF kernels (M-mode, no OS).
 *
 * _start (placed in .text.init, the first thing at 0x80000000):
 *   1. harts other than 0 park in a spin loop (the multi-core cluster start-up comes with the
 *      cluster memory map; today only hart 0 runs a kernel),
 *   2. sets sp = __stack_top and gp = __global_pointer$ (with norelax, gp must not be used
 *      to relax its own load),
 *   3. installs a trap handler that exits with code 128 + mcause (see below),
 *   4. turns the FPU on (mstatus.FS = Initial) and clears fcsr (RNE, no flags),
 *   5. zeroes .bss/.sbss (__bss_start .. __bss_end, both 16-byte aligned),
 *   6. calls main(0, 0) and exits with its return value through tohost:
 *      tohost = (code << 1) | 1, then spins.
 *
 * Traps: `ecall` with a7 = 93 is the exit call, exit(a0), as in the ABI (the simulator handles
 * that ecall itself only while mtvec = 0, so the handler here must do it). Any other trap
 * (illegal instruction, misaligned access, other ecalls, ...) ends the run with exit code
 * 128 + mcause (for example 130 = illegal instruction) so a broken kernel never looks like a pass.
 * hetsim recognises this handler by its symbol (__hetsim_trap) and reports such a trap itself
 * (cause, mtval, pc, symbol and source line) instead of vectoring here; other simulators (QEMU)
 * still see the exit code (docs/debugging.md).
 *
 * tohost / fromhost are defined here, 64-byte aligned, 8 bytes each, in section .tohost (the
 * RISC-V HTIF convention: the host watches the low word of tohost; the high word stays 0).
 */
#define MSTATUS_FS_INITIAL (1 << 13)

    .section .text.init, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    csrr    t0, mhartid
    bnez    t0, .Lpark

    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top

    la      t0, __hetsim_trap
    csrw    mtvec, t0

    li      t0, MSTATUS_FS_INITIAL
    csrs    mstatus, t0
    csrwi   fcsr, 0

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
    li      a0, 0
    li      a1, 0
    call    main

    /* exit(main's return value) */
.Lexit:
    slli    a0, a0, 1
    ori     a0, a0, 1
    la      t0, tohost
    sw      zero, 4(t0)
    sw      a0, 0(t0)
3:  j       3b

    /* Harts != 0: nothing to do yet (single-hart functional simulation). They spin without
     * touching memory so they cannot disturb hart 0. */
.Lpark:
    j       .Lpark
    .size _start, . - _start

    /* Unexpected trap: exit with 128 + mcause. mtvec must be 4-byte aligned (direct mode). */
    .text
    .balign 4
    .globl __hetsim_trap
    .type __hetsim_trap, @function
__hetsim_trap:
    csrr    t0, mcause
    li      t1, 93
    bne     a7, t1, 1f
    li      t1, 11                  /* ecall from M-mode with a7 = 93: exit(a0) */
    beq     t0, t1, .Lexit
    li      t1, 8                   /* (or from U-mode, should a kernel drop privilege) */
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
