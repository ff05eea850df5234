/* rv32ui-store.S - RV32I sb, sh, sw: only the low 8/16 bits are stored, neighbours untouched,
 * little-endian placement, negative offsets, x0 as data (hand-written). */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32U
RVTEST_CODE_BEGIN

        la x11, st_data
        CASE(2); li x12, 0x12345678; sw x12, 0(x11); lw x14, 0(x11); CHECK_REG(x14, 0x12345678)
        lw x14, 4(x11); CHECK_REG(x14, 0xaaaaaaaa)
        lw x14, -4(x11); CHECK_REG(x14, 0x55555555)
        CASE(3); li x12, 0xdeadbe99; sb x12, 1(x11); lw x14, 0(x11); CHECK_REG(x14, 0x12349978)
        CASE(4); li x12, 0x1234beef; sh x12, 2(x11); lw x14, 0(x11); CHECK_REG(x14, 0xbeef9978)
        CASE(5); li x12, 0xffffff80; sb x12, 0(x11); lw x14, 0(x11); CHECK_REG(x14, 0xbeef9980)
        CASE(6); li x12, 0x0001cafe; sh x12, 0(x11); lw x14, 0(x11); CHECK_REG(x14, 0xbeefcafe)
        CASE(7); sb x0, 3(x11); lw x14, 0(x11); CHECK_REG(x14, 0x00efcafe)
        CASE(8); sw x0, 0(x11); lw x14, 0(x11); CHECK_REG(x14, 0)
        lw x14, 4(x11); CHECK_REG(x14, 0xaaaaaaaa)
        /* negative offsets */
        CASE(9); addi x13, x11, 16; li x12, 0x0badf00d; sw x12, -12(x13); lw x14, 4(x11)
        CHECK_REG(x14, 0x0badf00d)
        CASE(10); addi x13, x11, 8; li x12, 0x77; sb x12, -1(x13); lw x14, 4(x11)
        CHECK_REG(x14, 0x77adf00d)
        CASE(11); addi x13, x11, 8; li x12, 0xabcd; sh x12, -4(x13); lw x14, 4(x11)
        CHECK_REG(x14, 0x77adabcd)
        /* read back with other widths */
        CASE(12); li x12, 0x80000000; sw x12, 8(x11); lh x14, 10(x11); CHECK_REG(x14, 0xffff8000)
        lhu x14, 10(x11); CHECK_REG(x14, 0x8000); lb x14, 11(x11); CHECK_REG(x14, 0xffffff80)
        lbu x14, 8(x11); CHECK_REG(x14, 0)
        /* the guard words around the buffer are intact */
        CASE(13); lw x14, -4(x11); CHECK_REG(x14, 0x55555555); lw x14, 16(x11); CHECK_REG(x14, 0x55555555)
        lw x14, 12(x11); CHECK_REG(x14, 0xaaaaaaaa)
        /* extreme offset */
        CASE(14); addi x13, x11, -2048; li x12, 0x31415926; sw x12, 2044(x13); lw x14, -4(x11)
        CHECK_REG(x14, 0x31415926)

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        .balign 16
        .word 0x55555555, 0x55555555, 0x55555555, 0x55555555
st_data:
        .word 0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa
        .word 0x55555555, 0x55555555, 0x55555555, 0x55555555
RVTEST_DATA_END
