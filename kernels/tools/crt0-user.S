/* Linux user-mode start-up for the kernels' user-mode builds (build/user/, HETSIM_USER_ENV).
 * The same ELF runs under qemu-riscv32 and under `hetsim exec` (whose host calls serve
 * write and exit while no trap handler is installed), so tests/tests/qemu_kernels.rs can
 * compare the two runs byte for byte:
 *   - the stack is our own (.user_stack), not the one Linux gives, so both runs see the same
 *     addresses and values;
 *   - at exit the integer registers x1-x31 (x2 = sp as restored by main), f0-f31 and fcsr
 *     are written to stdout (65 words), then the data section from __user_data_start to
 *     __user_data_end (.data and .bss, which hold the kernel's inputs and outputs), then the
 *     program exits with main's return value.
 * .bss is zero-filled by the loader in both. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __user_stack_top
    fscsr   zero
    li      a0, 0
    li      a1, 0
    call    main
    /* Dump: 65 words below the stack top; x2 is stored after the frame is reserved. */
    addi    sp, sp, -272
    sw      x1, 4(sp)
    sw      x3, 12(sp)
    sw      x4, 16(sp)
    sw      x5, 20(sp)
    sw      x6, 24(sp)
    sw      x7, 28(sp)
    sw      x8, 32(sp)
    sw      x9, 36(sp)
    sw      x10, 40(sp)
    sw      x11, 44(sp)
    sw      x12, 48(sp)
    sw      x13, 52(sp)
    sw      x14, 56(sp)
    sw      x15, 60(sp)
    sw      x16, 64(sp)
    sw      x17, 68(sp)
    sw      x18, 72(sp)
    sw      x19, 76(sp)
    sw      x20, 80(sp)
    sw      x21, 84(sp)
    sw      x22, 88(sp)
    sw      x23, 92(sp)
    sw      x24, 96(sp)
    sw      x25, 100(sp)
    sw      x26, 104(sp)
    sw      x27, 108(sp)
    sw      x28, 112(sp)
    sw      x29, 116(sp)
    sw      x30, 120(sp)
    sw      x31, 124(sp)
    sw      sp, 8(sp)
    sw      zero, 0(sp)
    .irp    n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fsw     f\n, (128 + 4 * \n)(sp)
    .endr
    frcsr   t0
    sw      t0, 256(sp)
    mv      s0, a0                      /* main's return value */
    li      a0, 1
    mv      a1, sp
    li      a2, 260
    li      a7, 64                      /* write(1, dump, 260) */
    ecall
    li      a0, 1
    la      a1, __user_data_start
    la      a2, __user_data_end
    sub     a2, a2, a1
    li      a7, 64                      /* write(1, data, size) */
    ecall
    mv      a0, s0
    li      a7, 93                      /* exit(main's return value) */
    ecall
1:  j       1b

    .section .tohost, "aw", @progbits
    .balign 64
    .globl tohost
tohost: .word 0, 0
    .balign 64
    .globl fromhost
fromhost: .word 0, 0

    .section .user_stack, "aw", @nobits
    .balign 16
    .space  0x10000
    .globl __user_stack_top
__user_stack_top:
