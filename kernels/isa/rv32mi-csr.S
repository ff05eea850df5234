/* rv32mi-csr.S - Zicsr and machine CSRs (hand-written from the privileged spec), body in M-mode:
 * csrrw/csrrs/csrrc and the immediate forms on mscratch (old value returned), rd = x0 and
 * rs1 = x0 / uimm = 0 forms (a set/clear with x0 does not write, so it is legal on read-only CSRs),
 * writes to read-only CSRs trap (illegal instruction, mtval = instruction bits), unknown CSRs
 * trap, M-mode CSRs trap in U-mode, counters count, misa describes RV32IMF, mepc[1:0] = 0. */
#include "riscv_test.h"
#include "test_macros.h"

/* Expect the instruction at `label` to have trapped with mcause 2, mepc = label and mtval =
 * its encoding (read back from memory). */
#define CHECK_ILLEGAL_AT(label)                                             \
        li t0, CAUSE_ILLEGAL_INSN; FAIL_IF_NE(s2, t0);                      \
        la t0, label; FAIL_IF_NE(s3, t0); lw t0, 0(t0); FAIL_IF_NE(s4, t0)

RVTEST_RV32M
RVTEST_CODE_BEGIN

        RECORD_TRAPS_INSTALL

        /* mscratch read/write forms */
        CASE(2); li t0, 0x12345678; csrw mscratch, t0; csrr x14, mscratch; CHECK_REG(x14, 0x12345678)
        CASE(3); li t0, 0xdeadbeef; csrrw x14, mscratch, t0; CHECK_REG(x14, 0x12345678)
        csrr x14, mscratch; CHECK_REG(x14, 0xdeadbeef)
        CASE(4); li t0, 0x0000ffff; csrrs x14, mscratch, t0; CHECK_REG(x14, 0xdeadbeef)
        csrr x14, mscratch; CHECK_REG(x14, 0xdeadffff)
        CASE(5); li t0, 0xffff0000; csrrc x14, mscratch, t0; CHECK_REG(x14, 0xdeadffff)
        csrr x14, mscratch; CHECK_REG(x14, 0x0000ffff)
        CASE(6); csrrwi x14, mscratch, 31; CHECK_REG(x14, 0x0000ffff); csrr x14, mscratch; CHECK_REG(x14, 31)
        CASE(7); csrwi mscratch, 0x0a; csrrsi x14, mscratch, 0x05; CHECK_REG(x14, 0x0a)
        csrr x14, mscratch; CHECK_REG(x14, 0x0f)
        CASE(8); csrrci x14, mscratch, 0x03; CHECK_REG(x14, 0x0f); csrr x14, mscratch; CHECK_REG(x14, 0x0c)
        CASE(9); li t0, 0x55aa55aa; csrrw x0, mscratch, t0; csrr x14, mscratch; CHECK_REG(x14, 0x55aa55aa)
        /* rd = rs1 */
        CASE(10); li x14, 0x11111111; csrrw x14, mscratch, x14; CHECK_REG(x14, 0x55aa55aa)
        csrr x14, mscratch; CHECK_REG(x14, 0x11111111)
        /* csrrs/csrrc with x0 and the immediate forms with 0 read without writing */
        CASE(11); csrrs x14, mscratch, x0; CHECK_REG(x14, 0x11111111)
        csrrci x14, mscratch, 0; CHECK_REG(x14, 0x11111111)

        /* reading read-only CSRs (no write intended) does not trap */
        CASE(12); csrr x14, mhartid; CHECK_REG(x14, 0)
        csrrsi x14, mhartid, 0; csrrc x14, mhartid, x0; csrr x14, mvendorid; csrr x14, marchid
        csrr x14, mimpid; FAIL_IF_NZ(s5)

        /* writes to read-only CSRs trap: csrrw always writes, csrrs/csrrc with rs1 != x0 write */
        CASE(13); li t0, 1; li s2, -1
1:      csrw mhartid, t0
        CHECK_ILLEGAL_AT(1b)
        CASE(14); li t0, 1; li s2, -1; li x14, 0x77
1:      csrrs x14, mhartid, t0
        CHECK_ILLEGAL_AT(1b); CHECK_REG(x14, 0x77)
        CASE(15); li s2, -1
1:      csrrwi x0, cycle, 0
        CHECK_ILLEGAL_AT(1b)
        CASE(16); li s2, -1
1:      csrrsi x14, mvendorid, 1
        CHECK_ILLEGAL_AT(1b)
        CASE(17); li s2, -1; li t0, 4
1:      csrrc x0, instret, t0
        CHECK_ILLEGAL_AT(1b)

        /* an unimplemented CSR (0x7c0, custom machine read/write) traps on read */
        CASE(18); li s2, -1
1:      csrr x14, 0x7c0
        CHECK_ILLEGAL_AT(1b)

        /* minstret counts retired instructions: the second read sees the first read and the
         * three nops (the reading instruction itself is not yet counted) */
        CASE(19); csrr x12, minstret; nop; nop; nop; csrr x13, minstret; sub x14, x13, x12
        CHECK_REG(x14, 4)
        /* instret is minstret, one instruction later */
        CASE(20); csrr x12, instret; csrr x13, minstret; sub x14, x13, x12; CHECK_REG(x14, 1)
        /* mcycle advances; cycle is its user alias */
        CASE(21); csrr x12, mcycle; nop; csrr x13, mcycle; bgeu x12, x13, fail
        csrr x12, mcycle; csrr x13, cycle; bltu x13, x12, fail
        /* minstret is writable */
        CASE(22); csrwi minstret, 0; csrr x14, minstret; li t0, 2; bgeu x14, t0, fail

        /* misa: MXL = 1 (32-bit), I, M, F present; C, D, A absent. misa = 0 is also legal. */
        CASE(23); csrr x12, misa; beqz x12, 1f
        srli x14, x12, 30; CHECK_REG(x14, 1)
        li t0, (1 << 8) | (1 << 12) | (1 << 5); and x14, x12, t0; CHECK_REG(x14, (1 << 8) | (1 << 12) | (1 << 5))
        li t0, (1 << 2) | (1 << 3); and x14, x12, t0; CHECK_REG(x14, 0)
1:
        /* mepc: the two low bits read as zero without C (IALIGN = 32) */
        CASE(24); li t0, 0x80000003; csrw mepc, t0; csrr x14, mepc; CHECK_REG(x14, 0x80000000)
        /* mtvec in direct mode holds an aligned address */
        CASE(25); csrr x12, mtvec; la t0, rvtest_record_trap; FAIL_IF_NE(x12, t0)

        /* machine CSRs are not accessible from U-mode */
        CASE(26); li s2, -1; GOTO_USER(2f, 3f)
2:      csrr x14, mscratch
        j fail
3:      CHECK_ILLEGAL_AT(2b)
        /* mstatus.MPP = U when the trap came from U-mode */
        srli x14, s7, 11; andi x14, x14, 3; CHECK_REG(x14, 0)
        CASE(27); li s2, -1; GOTO_USER(2f, 3f)
2:      csrw mscratch, x0
        j fail
3:      CHECK_ILLEGAL_AT(2b)
        /* but the unprivileged FP CSRs are, and cycle/instret are only if mcounteren allows:
         * not tested here */
        CASE(28); li s2, -1; GOTO_USER(2f, 3f)
2:      mret
        j fail
3:      CHECK_ILLEGAL_AT(2b)

        la t0, trap_vector; csrw mtvec, t0
        TEST_PASSFAIL

        RECORD_TRAPS_HANDLER

RVTEST_CODE_END

RVTEST_DATA_BEGIN
RVTEST_DATA_END
