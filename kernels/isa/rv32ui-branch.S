/* rv32ui-branch.S - RV32I beq, bne, blt, bge, bltu, bgeu, each taken (forward and backward)
 * and not taken, at signed/unsigned boundaries (hand-written; blt/bge compare as two's
 * complement, bltu/bgeu as unsigned; bge/bgeu are taken on equality). */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32U
RVTEST_CODE_BEGIN

        TEST_BR_TAKEN(2, beq, 0, 0)
        TEST_BR_TAKEN(3, beq, 1, 1)
        TEST_BR_TAKEN(4, beq, -1, -1)
        TEST_BR_TAKEN(5, beq, 0x80000000, 0x80000000)
        TEST_BR_NOT_TAKEN(6, beq, 0, 1)
        TEST_BR_NOT_TAKEN(7, beq, 1, 0)
        TEST_BR_NOT_TAKEN(8, beq, -1, 1)
        TEST_BR_NOT_TAKEN(9, beq, 0x80000000, 0)

        TEST_BR_TAKEN(10, bne, 0, 1)
        TEST_BR_TAKEN(11, bne, 1, 0)
        TEST_BR_TAKEN(12, bne, -1, 1)
        TEST_BR_TAKEN(13, bne, 0x80000000, 0)
        TEST_BR_NOT_TAKEN(14, bne, 0, 0)
        TEST_BR_NOT_TAKEN(15, bne, -1, -1)
        TEST_BR_NOT_TAKEN(16, bne, 0x7fffffff, 0x7fffffff)

        TEST_BR_TAKEN(17, blt, 0, 1)
        TEST_BR_TAKEN(18, blt, -1, 1)
        TEST_BR_TAKEN(19, blt, -2, -1)
        TEST_BR_TAKEN(20, blt, 0x80000000, 0x7fffffff)
        TEST_BR_TAKEN(21, blt, 0x80000000, 0)
        TEST_BR_NOT_TAKEN(22, blt, 1, 0)
        TEST_BR_NOT_TAKEN(23, blt, 1, -1)
        TEST_BR_NOT_TAKEN(24, blt, -1, -2)
        TEST_BR_NOT_TAKEN(25, blt, 0, 0)
        TEST_BR_NOT_TAKEN(26, blt, 0x7fffffff, 0x80000000)

        TEST_BR_TAKEN(27, bge, 1, 0)
        TEST_BR_TAKEN(28, bge, 0, 0)
        TEST_BR_TAKEN(29, bge, -1, -1)
        TEST_BR_TAKEN(30, bge, 1, -1)
        TEST_BR_TAKEN(31, bge, 0x7fffffff, 0x80000000)
        TEST_BR_NOT_TAKEN(32, bge, -1, 0)
        TEST_BR_NOT_TAKEN(33, bge, 0, 1)
        TEST_BR_NOT_TAKEN(34, bge, 0x80000000, 0x7fffffff)
        TEST_BR_NOT_TAKEN(35, bge, -2, -1)

        TEST_BR_TAKEN(36, bltu, 0, 1)
        TEST_BR_TAKEN(37, bltu, 1, 0xffffffff)
        TEST_BR_TAKEN(38, bltu, 0x7fffffff, 0x80000000)
        TEST_BR_TAKEN(39, bltu, 0xfffffffe, 0xffffffff)
        TEST_BR_NOT_TAKEN(40, bltu, 1, 0)
        TEST_BR_NOT_TAKEN(41, bltu, 0xffffffff, 1)
        TEST_BR_NOT_TAKEN(42, bltu, 0x80000000, 0x7fffffff)
        TEST_BR_NOT_TAKEN(43, bltu, 5, 5)

        TEST_BR_TAKEN(44, bgeu, 1, 0)
        TEST_BR_TAKEN(45, bgeu, 5, 5)
        TEST_BR_TAKEN(46, bgeu, 0xffffffff, 1)
        TEST_BR_TAKEN(47, bgeu, 0x80000000, 0x7fffffff)
        TEST_BR_TAKEN(48, bgeu, 0, 0)
        TEST_BR_NOT_TAKEN(49, bgeu, 0, 1)
        TEST_BR_NOT_TAKEN(50, bgeu, 0x7fffffff, 0x80000000)
        TEST_BR_NOT_TAKEN(51, bgeu, 0xfffffffe, 0xffffffff)

        /* same register on both sides, and x0 */
        CASE(52); li x11, -7; beq x11, x11, 1f; j fail; 1:
        CASE(53); li x11, -7; blt x11, x11, fail; bltu x11, x11, fail; bne x11, x11, fail
        CASE(54); li x11, -7; bge x11, x11, 1f; j fail; 1: bgeu x11, x11, 1f; j fail; 1:
        CASE(55); li x11, -7; blt x11, x0, 1f; j fail; 1: bltu x0, x11, 1f; j fail; 1:
        CASE(56); bltu x11, x0, fail; bne x0, x0, fail

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
RVTEST_DATA_END
