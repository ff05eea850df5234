/* rv32ui-load.S - RV32I lb, lbu, lh, lhu, lw: little-endian byte order, sign/zero extension,
 * positive, negative and extreme (+2047 / -2048) offsets, rd = rs1, rd = x0 (hand-written). */
#include "riscv_test.h"
#include "test_macros.h"

#define TEST_LD(n, op, res, off, base)                                      \
        CASE(n); la x11, base; op x14, off(x11); CHECK_REG(x14, res)

RVTEST_RV32U
RVTEST_CODE_BEGIN

        /* ld_data bytes: 01 82 7f ff | 78 56 34 12 | 00 00 00 80 | ff 7f 00 80 */
        TEST_LD(2, lb, 0x00000001, 0, ld_data)
        TEST_LD(3, lb, 0xffffff82, 1, ld_data)
        TEST_LD(4, lb, 0x0000007f, 2, ld_data)
        TEST_LD(5, lb, 0xffffffff, 3, ld_data)
        TEST_LD(6, lbu, 0x00000001, 0, ld_data)
        TEST_LD(7, lbu, 0x00000082, 1, ld_data)
        TEST_LD(8, lbu, 0x0000007f, 2, ld_data)
        TEST_LD(9, lbu, 0x000000ff, 3, ld_data)
        TEST_LD(10, lh, 0xffff8201, 0, ld_data)
        TEST_LD(11, lh, 0xffffff7f, 2, ld_data)
        TEST_LD(12, lh, 0x00005678, 4, ld_data)
        TEST_LD(13, lh, 0x00007fff, 12, ld_data)
        TEST_LD(14, lh, 0xffff8000, 14, ld_data)
        TEST_LD(15, lhu, 0x00008201, 0, ld_data)
        TEST_LD(16, lhu, 0x0000ff7f, 2, ld_data)
        TEST_LD(17, lhu, 0x00001234, 6, ld_data)
        TEST_LD(18, lhu, 0x00008000, 14, ld_data)
        TEST_LD(19, lw, 0xff7f8201, 0, ld_data)
        TEST_LD(20, lw, 0x12345678, 4, ld_data)
        TEST_LD(21, lw, 0x80000000, 8, ld_data)
        TEST_LD(22, lw, 0x80007fff, 12, ld_data)
        /* negative offsets from the end of the block */
        TEST_LD(23, lw, 0x12345678, -12, ld_end)
        TEST_LD(24, lb, 0x00000056, -11, ld_end)
        TEST_LD(25, lh, 0x00001234, -10, ld_end)
        TEST_LD(26, lbu, 0x00000080, -1, ld_end)
        TEST_LD(27, lb, 0xffffff80, -1, ld_end)
        /* extreme offsets */
        CASE(28); la x11, ld_data; addi x11, x11, -2047; lw x14, 2047(x11); CHECK_REG(x14, 0xff7f8201)
        CASE(29); la x11, ld_data; addi x11, x11, 2044; addi x11, x11, 4; lw x14, -2048(x11)
        CHECK_REG(x14, 0xff7f8201)
        /* rd = rs1 */
        CASE(30); la x11, ld_data; lw x11, 4(x11); CHECK_REG(x11, 0x12345678)
        CASE(31); la x11, ld_data; lbu x11, 1(x11); CHECK_REG(x11, 0x00000082)
        /* rd = x0: loads still happen but x0 stays zero */
        CASE(32); la x11, ld_data; lw x0, 0(x11); FAIL_IF_NZ(x0)
        CASE(33); la x11, ld_data; lb x0, 1(x11); FAIL_IF_NZ(x0)

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        .balign 16
ld_data:
        .byte 0x01, 0x82, 0x7f, 0xff
        .word 0x12345678
        .word 0x80000000
        .half 0x7fff, 0x8000
ld_end:
RVTEST_DATA_END
