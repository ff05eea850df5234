/* riscv_test.h - test environment for the hetsim ISA self-tests.
 *
 * Written for hetsim from the conventions in the RISC-V ISA test suite's "p" environment (see
 * docs/kernels.md and shared/reference/isa-tests.md); it is not a copy of riscv-tests.
 *
 * A test file looks like:
 *
 *     #include "riscv_test.h"
 *     #include "test_macros.h"
 *     RVTEST_RV32U              // or RVTEST_RV32UF (FPU on), RVTEST_RV32M (body runs in M-mode)
 *     RVTEST_CODE_BEGIN
 *         ... test cases (each sets gp = its number, branches to `fail` on a mismatch) ...
 *         TEST_PASSFAIL
 *     RVTEST_CODE_END
 *     RVTEST_DATA_BEGIN
 *         ... data ...
 *     RVTEST_DATA_END
 *
 * Bare-metal start-up (default, the simulator ELFs):
 *   _start at 0x80000000 (.text.init) jumps over the trap vector to reset:
 *   - clears x1..x31; harts != 0 park in a spin loop,
 *   - writes mtvec = trap_vector, then probes optional CSRs (satp, pmpaddr0, pmpcfg0, medeleg,
 *     mideleg, mie) each with mtvec pointing just past the access: an unimplemented CSR raises an
 *     illegal-instruction trap that simply resumes after it,
 *   - restores mtvec, clears mstatus (so MPP = U, MIE = MPIE = 0),
 *   - RVTEST_RV32UF / RVTEST_RV32M: mstatus.FS = Initial and fcsr = 0,
 *   - RVTEST_RV32M: MPP = M,
 *   - mepc = first test instruction; mret.
 * Exit: RVTEST_PASS: gp = 1, a7 = 93, a0 = 0, ecall. RVTEST_FAIL: gp = (n << 1) | 1, a7 = 93,
 *   a0 = gp, ecall. The trap vector turns an ecall (mcause 8 from U, 9 from S, 11 from M) into
 *   tohost = gp, tohost+4 = 0 and spins; any other trap stores gp | 1337 (odd, so a failure).
 * Tests that expect traps install their own handler in mtvec (RVTEST_RV32M tests) and restore it.
 *
 * qemu-user reference build (-DHETSIM_USER_ENV, `make check-qemu`): _start is the first test
 * instruction of a Linux user program; FP tests clear fcsr; pass/fail use the same ecall, which
 * Linux treats as exit(a0): 0 = pass, (n << 1) | 1 = failure of test n.
 */
#ifndef HETSIM_RISCV_TEST_H
#define HETSIM_RISCV_TEST_H

#define TESTNUM gp

#define MSTATUS_MPP      (3 << 11)
#define MSTATUS_FS_INIT  (1 << 13)
#define MSTATUS_FS       (3 << 13)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_ILLEGAL_INSN     2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11

/* ---- environment selection (defines the assembler macro rvtest_env_init) --------------------- */
#ifdef HETSIM_USER_ENV

#define RVTEST_RV32U  .macro rvtest_env_init; .endm
#define RVTEST_RV32UF .macro rvtest_env_init; fscsr zero; .endm
#define RVTEST_RV32M  .error "RVTEST_RV32M tests need machine mode; not runnable under qemu-user"

#define RVTEST_CODE_BEGIN                                                   \
        .section .text.init, "ax", @progbits;                               \
        .globl _start;                                                      \
_start:                                                                     \
        rvtest_env_init;                                                    \
        .globl rvtest_body;                                                 \
rvtest_body:

#else /* bare metal, machine mode start-up then U-mode (or M-mode) body */

#define RVTEST_RV32U  .macro rvtest_env_init; .endm
#define RVTEST_RV32UF .macro rvtest_env_init;                               \
        li t0, MSTATUS_FS_INIT; csrs mstatus, t0; csrwi fcsr, 0; .endm
#define RVTEST_RV32M  .macro rvtest_env_init;                               \
        li t0, MSTATUS_FS_INIT | MSTATUS_MPP; csrs mstatus, t0; csrwi fcsr, 0; .endm

/* Probe one optional CSR access: on an illegal-instruction trap execution resumes at 1:. */
#define RVTEST_PROBE(insn...)                                               \
        la t0, 1f; csrw mtvec, t0; insn; .balign 4; 1:

#define RVTEST_CODE_BEGIN                                                   \
        .section .text.init, "ax", @progbits;                               \
        .balign 64;                                                         \
        .globl _start;                                                      \
_start:                                                                     \
        j rvtest_reset;                                                     \
        .balign 4;                                                          \
        .globl trap_vector;                                                 \
trap_vector:                                                                \
        csrr t5, mcause;                                                    \
        li t6, CAUSE_ECALL_U; beq t5, t6, rvtest_write_tohost;              \
        li t6, CAUSE_ECALL_S; beq t5, t6, rvtest_write_tohost;              \
        li t6, CAUSE_ECALL_M; beq t5, t6, rvtest_write_tohost;              \
        ori TESTNUM, TESTNUM, 1337;                                         \
rvtest_write_tohost:                                                        \
        sw TESTNUM, tohost, t5;                                             \
        sw zero, tohost + 4, t5;                                            \
        j rvtest_write_tohost;                                              \
rvtest_reset:                                                               \
        li x1, 0; li x2, 0; li x3, 0; li x4, 0; li x5, 0; li x6, 0;         \
        li x7, 0; li x8, 0; li x9, 0; li x10, 0; li x11, 0; li x12, 0;      \
        li x13, 0; li x14, 0; li x15, 0; li x16, 0; li x17, 0; li x18, 0;   \
        li x19, 0; li x20, 0; li x21, 0; li x22, 0; li x23, 0; li x24, 0;   \
        li x25, 0; li x26, 0; li x27, 0; li x28, 0; li x29, 0; li x30, 0;   \
        li x31, 0;                                                          \
        csrr a0, mhartid;                                                   \
rvtest_park:                                                                \
        bnez a0, rvtest_park;                                               \
        la t0, trap_vector; csrw mtvec, t0;                                 \
        RVTEST_PROBE(csrwi satp, 0)                                         \
        RVTEST_PROBE(li t1, -1; csrw pmpaddr0, t1)                          \
        RVTEST_PROBE(li t1, 0x1f; csrw pmpcfg0, t1)                         \
        RVTEST_PROBE(csrwi medeleg, 0)                                      \
        RVTEST_PROBE(csrwi mideleg, 0)                                      \
        RVTEST_PROBE(csrwi mie, 0)                                          \
        la t0, trap_vector; csrw mtvec, t0;                                 \
        li TESTNUM, 0;                                                      \
        csrwi mstatus, 0;                                                   \
        rvtest_env_init;                                                    \
        la t0, rvtest_body; csrw mepc, t0;                                  \
        li t0, 0; li t1, 0; li a0, 0;                                       \
        mret;                                                               \
        .text;                                                              \
        .balign 4;                                                          \
        .globl rvtest_body;                                                 \
rvtest_body:

#endif /* HETSIM_USER_ENV */

#define RVTEST_CODE_END                                                     \
        unimp

#define RVTEST_PASS                                                         \
        fence;                                                              \
        li TESTNUM, 1;                                                      \
        li a7, 93;                                                          \
        li a0, 0;                                                           \
        ecall

#define RVTEST_FAIL                                                         \
        fence;                                                              \
        slli TESTNUM, TESTNUM, 1;                                           \
        ori TESTNUM, TESTNUM, 1;                                            \
        li a7, 93;                                                          \
        mv a0, TESTNUM;                                                     \
        ecall

#define RVTEST_DATA_BEGIN                                                   \
        .section .tohost, "aw", @progbits;                                  \
        .balign 64; .globl tohost; .type tohost, @object;                   \
tohost: .word 0, 0; .size tohost, 8;                                        \
        .balign 64; .globl fromhost; .type fromhost, @object;               \
fromhost: .word 0, 0; .size fromhost, 8;                                    \
        .data;                                                              \
        .balign 16;                                                         \
        .globl begin_signature;                                             \
begin_signature:

#define RVTEST_DATA_END                                                     \
        .balign 16;                                                         \
        .globl end_signature;                                               \
end_signature:

#endif /* HETSIM_RISCV_TEST_H */
