/* rv32ui-jump.S - RV32I jal and jalr (hand-written, from the ISA manual): link = pc + 4,
 * targets forward/backward/far, rd = x0 (no link), jalr target = (rs1 + imm) & ~1 computed from
 * the old rs1 even when rd = rs1, negative offsets. Skipped code paths end in `j fail` or in
 * all-zero words (illegal instructions, which end the test with an odd tohost). */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32U
RVTEST_CODE_BEGIN

        /* jal forward with link */
        CASE(2); li x14, 0; la x12, 3f; jal x13, 2f
3:      li x14, 1; j fail
2:      FAIL_IF_NE(x13, x12); FAIL_IF_NZ(x14)

        /* jal backward, rd = x0 */
        CASE(3); li x14, 0; j 4f
5:      addi x14, x14, 1; j 6f
4:      jal x0, 5b
6:      CHECK_REG(x14, 1); FAIL_IF_NZ(x0)

        /* jalr with offset 0 */
        CASE(4); la t0, 7f; jalr x13, 0(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(x13, x12)

        /* jalr with positive and negative offsets */
        CASE(5); la t0, 7f; addi t0, t0, -8; jalr x13, 8(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(x13, x12)
        CASE(6); la t0, 7f; addi t0, t0, 2000; jalr x13, -2000(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(x13, x12)

        /* the least significant bit of the target is cleared: odd base, odd offset */
        CASE(7); la t0, 7f; addi t0, t0, 1; jalr x13, 0(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(x13, x12)
        CASE(8); la t0, 7f; jalr x13, 1(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(x13, x12)
        CASE(9); la t0, 7f; addi t0, t0, -3; jalr x13, 4(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(x13, x12)

        /* rd = rs1: the target uses the old rs1, then rd gets the link */
        CASE(10); la t0, 7f; jalr t0, 0(t0)
8:      j fail
7:      la x12, 8b; FAIL_IF_NE(t0, x12)

        /* rd = x0 (jr / ret) */
        CASE(11); la t0, 7f; jalr x0, 0(t0)
        j fail
7:      FAIL_IF_NZ(x0)

        /* call / ret through ra */
        CASE(12); li a0, 5; call double_a0; CHECK_REG(a0, 10)

        /* far jal forward and backward (offset beyond the 12-bit range) */
        CASE(13); la x12, 3f; jal x13, far_fwd
3:      j fail
        .fill 1200, 4, 0
far_fwd:
        FAIL_IF_NE(x13, x12)
        CASE(14); j 2f
far_back:
        la x12, 3f; FAIL_IF_NE(x13, x12); j 4f
        .fill 1200, 4, 0
2:      jal x13, far_back
3:      j fail
4:

        TEST_PASSFAIL

double_a0:
        add a0, a0, a0
        ret

RVTEST_CODE_END

RVTEST_DATA_BEGIN
RVTEST_DATA_END
