/* Linux user-mode start-up for the qemu-user reference run of the C kernels (make check-qemu).
 * Not used for the simulator ELFs. Stack: the one Linux gives us. Exit: ecall 93 (exit) with
 * main's return value. .bss is zero-filled by the loader. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    andi    sp, sp, -16
    fscsr   zero
    li      a0, 0
    li      a1, 0
    call    main
    li      a7, 93
    ecall
1:  j       1b

    .section .tohost, "aw", @progbits
    .balign 64
    .globl tohost
tohost: .word 0, 0
    .balign 64
    .globl fromhost
fromhost: .word 0, 0
