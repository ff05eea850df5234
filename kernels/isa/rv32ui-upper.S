/* rv32ui-upper.S - RV32I lui and auipc (hand-written; expectations from the ISA manual:
 * lui rd, imm20 -> imm20 << 12; auipc rd, imm20 -> pc + (imm20 << 12), pc of the auipc itself). */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32U
RVTEST_CODE_BEGIN

        CASE(2); lui x14, 0; CHECK_REG(x14, 0)
        CASE(3); lui x14, 0xfffff; CHECK_REG(x14, 0xfffff000)
        CASE(4); lui x14, 0x80000; CHECK_REG(x14, 0x80000000)
        CASE(5); lui x14, 0x7ffff; CHECK_REG(x14, 0x7ffff000)
        CASE(6); lui x14, 0x12345; addi x14, x14, 0x678; CHECK_REG(x14, 0x12345678)
        CASE(7); lui x14, 0x12345; addi x14, x14, -1; CHECK_REG(x14, 0x12344fff)
        /* lui clears the low 12 bits of whatever was in rd */
        CASE(8); li x14, -1; lui x14, 0x00001; CHECK_REG(x14, 0x00001000)
        CASE(9); lui x0, 0x12345; FAIL_IF_NZ(x0)

        /* auipc: compare with the link value of a jal whose target is the auipc itself */
        CASE(10); jal x12, 1f; 1: auipc x14, 0; FAIL_IF_NE(x14, x12)
        CASE(11); jal x12, 1f; 1: auipc x14, 1; sub x14, x14, x12; CHECK_REG(x14, 0x1000)
        CASE(12); jal x12, 1f; 1: auipc x14, 0xfffff; sub x14, x14, x12; CHECK_REG(x14, 0xfffff000)
        CASE(13); jal x12, 1f; 1: auipc x14, 0x80000; sub x14, x14, x12; CHECK_REG(x14, 0x80000000)
        CASE(14); jal x12, 1f; 1: auipc x14, 0x7ffff; sub x14, x14, x12; CHECK_REG(x14, 0x7ffff000)
        /* auipc + addi pair (what `la` expands to without relaxation) reaches a data word */
        CASE(15); 1: auipc x11, %pcrel_hi(udata); addi x11, x11, %pcrel_lo(1b); lw x14, 0(x11)
        CHECK_REG(x14, 0x600dc0de)
        CASE(16); auipc x0, 0x12345; FAIL_IF_NZ(x0)

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
udata:  .word 0x600dc0de
RVTEST_DATA_END
