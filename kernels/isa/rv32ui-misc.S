/* rv32ui-misc.S - RV32I fence variants and reserved-field forward compatibility
 * (hand-written, unprivileged spec 2.7 and Zifencei): FENCE with any pred/succ, FENCE.TSO
 * (fm = 1000), PAUSE (fence w, 0) and FENCE / FENCE.I with non-zero rd, rs1 or imm fields
 * (reserved; "base implementations shall ignore these fields") all execute as fences: no trap,
 * no register written. Encodings:
 *   0x0ff0000f fence iorw, iorw      0x8330000f fence.tso       0x0100000f pause
 *   0x0ff5850f fence iorw, iorw with rd = a0, rs1 = a1
 *   0x0005950f fence.i with rd = a0, rs1 = a1;  0x7ff0100f fence.i with imm = 0x7ff
 * Also a few HINT encodings (writes to x0) that must be plain no-ops. */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32U
RVTEST_CODE_BEGIN

        CASE(2); li a0, 0x1234; li a1, 0x5678
        fence; fence rw, rw; fence r, w; fence i, o
        .word 0x0ff0000f
        .word 0x8330000f
        .word 0x0100000f
        CHECK_REG(a0, 0x1234)
        CASE(3); .word 0x0ff5850f; CHECK_REG(a0, 0x1234); CHECK_REG(a1, 0x5678)
        CASE(4); fence.i; .word 0x0005950f; CHECK_REG(a0, 0x1234); CHECK_REG(a1, 0x5678)
        CASE(5); .word 0x7ff0100f; CHECK_REG(a0, 0x1234)
        /* HINTs: register writes to x0 */
        CASE(6); addi x0, a0, 5; slti x0, a0, 1; sltiu x0, a0, 1; andi x0, a0, 1; ori x0, a0, 1
        xori x0, a0, 1; slli x0, a0, 1; srli x0, a0, 1; srai x0, a0, 1; add x0, a0, a1
        lui x0, 1; auipc x0, 1; FAIL_IF_NZ(x0)
        /* nop is addi x0, x0, 0; mv and not are aliases */
        CASE(7); nop; mv a2, a1; not a3, a1; CHECK_REG(a2, 0x5678); CHECK_REG(a3, 0xffffa987)
        CASE(8); neg a3, a1; CHECK_REG(a3, 0xffffa988); seqz a3, x0; CHECK_REG(a3, 1)
        snez a3, a1; CHECK_REG(a3, 1); sltz a3, a3; CHECK_REG(a3, 0)

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
RVTEST_DATA_END
