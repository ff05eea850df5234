/* rv32mi-trap.S - environment-call and breakpoint traps and mret (hand-written, privileged
 * spec): ecall from M-mode -> mcause 11, from U-mode -> mcause 8; ebreak -> mcause 3; mepc = the
 * trapping instruction; mtval = 0 for ecall, 0 or the pc for ebreak; on a trap MPP = previous
 * privilege, MPIE = old MIE, MIE = 0; mret sets MIE = MPIE, MPIE = 1, MPP = U (least privileged
 * mode) and jumps to mepc. These ecalls use a7 = 0, so they are not the exit call (a7 = 93). */
#include "riscv_test.h"
#include "test_macros.h"

#define MSTATUS_MIE  (1 << 3)
#define MSTATUS_MPIE (1 << 7)

RVTEST_RV32M
RVTEST_CODE_BEGIN

        RECORD_TRAPS_INSTALL
        li a7, 0

        /* ecall from M-mode */
        CASE(2); li s2, -1
1:      ecall
        CHECK_REG(s2, CAUSE_ECALL_M); la t0, 1b; FAIL_IF_NE(s3, t0); FAIL_IF_NZ(s4)
        srli x14, s7, 11; andi x14, x14, 3; CHECK_REG(x14, 3)
        /* MIE was 0, so MPIE = 0 and MIE = 0 in the trap */
        andi x14, s7, MSTATUS_MIE | MSTATUS_MPIE; CHECK_REG(x14, 0)

        /* ebreak from M-mode */
        CASE(3); li s2, -1
1:      ebreak
        CHECK_REG(s2, CAUSE_BREAKPOINT); la t0, 1b; FAIL_IF_NE(s3, t0)
        beqz s4, 2f; FAIL_IF_NE(s4, t0)
2:
        /* ecall from U-mode (continues in M-mode at 3:) */
        CASE(4); li s2, -1; GOTO_USER(2f, 3f)
2:      ecall
        j fail
3:      CHECK_REG(s2, CAUSE_ECALL_U); la t0, 2b; FAIL_IF_NE(s3, t0); FAIL_IF_NZ(s4)
        srli x14, s7, 11; andi x14, x14, 3; CHECK_REG(x14, 0)

        /* ebreak from U-mode */
        CASE(5); li s2, -1; GOTO_USER(2f, 3f)
2:      ebreak
        j fail
3:      CHECK_REG(s2, CAUSE_BREAKPOINT); la t0, 2b; FAIL_IF_NE(s3, t0)

        /* a trap from U-mode returns to U-mode with mret (resume at mepc + 4 in U-mode), where
         * the next ecall shows we are still in U-mode */
        CASE(6); li s2, -1; GOTO_USER(2f, 4f)
2:      li s6, 0                            /* make the first trap resume at mepc + 4 in U */
        ebreak
        la s6, 4f                           /* the ecall continues at 4: in M-mode */
3:      ecall
        j fail
4:      CHECK_REG(s2, CAUSE_ECALL_U); la t0, 3b; FAIL_IF_NE(s3, t0); CHECK_REG(s5, 6)

        /* mret: MIE <- MPIE, MPIE <- 1, MPP <- U; jumps to mepc (in M-mode since MPP = M) */
        CASE(7); li t0, MSTATUS_MIE; csrc mstatus, t0
        li t0, MSTATUS_MPIE | MSTATUS_MPP; csrs mstatus, t0
        la t0, 1f; csrw mepc, t0; mret
        j fail
1:      csrr x12, mstatus
        li t0, MSTATUS_MIE; csrc mstatus, t0    /* interrupts off again (mie = 0 anyway) */
        andi x14, x12, MSTATUS_MIE; CHECK_REG(x14, MSTATUS_MIE)
        andi x14, x12, MSTATUS_MPIE; CHECK_REG(x14, MSTATUS_MPIE)
        srli x14, x12, 11; andi x14, x14, 3; CHECK_REG(x14, 0)
        /* mret with MPIE = 0: MIE becomes 0, MPIE becomes 1 */
        CASE(8); li t0, MSTATUS_MPIE; csrc mstatus, t0; li t0, MSTATUS_MPP; csrs mstatus, t0
        la t0, 1f; csrw mepc, t0; mret
        j fail
1:      csrr x12, mstatus
        andi x14, x12, MSTATUS_MIE | MSTATUS_MPIE; CHECK_REG(x14, MSTATUS_MPIE)

        /* mret into U-mode really drops privilege: an M-mode CSR read traps there */
        CASE(9); li s2, -1; GOTO_USER(2f, 3f)
2:      csrr x14, mstatus
        j fail
3:      CHECK_REG(s2, CAUSE_ILLEGAL_INSN); la t0, 2b; FAIL_IF_NE(s3, t0)

        la t0, trap_vector; csrw mtvec, t0
        TEST_PASSFAIL

        RECORD_TRAPS_HANDLER

RVTEST_CODE_END

RVTEST_DATA_BEGIN
RVTEST_DATA_END
