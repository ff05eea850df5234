/* rv32uf-ldst.S - RV32F flw, fsw, fmv.x.w, fmv.w.x: raw bit moves (signalling NaN payloads and
 * negative zero pass unchanged; no NaN canonicalisation, no flags), offsets (hand-written).
 * NaN-boxing does not apply: F-only, FLEN = 32. */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32UF
RVTEST_CODE_BEGIN

        la x11, fdata
        CASE(2); fsflags zero; flw f1, 0(x11); fmv.x.w x14, f1; CHECK_REG(x14, 0x7f800001)
        frflags t1; FAIL_IF_NZ(t1)
        CASE(3); flw f2, 4(x11); fsw f2, 16(x11); lw x14, 16(x11); CHECK_REG(x14, 0xffc12345)
        CASE(4); flw f3, 8(x11); fmv.x.w x14, f3; CHECK_REG(x14, 0x80000000)
        CASE(5); addi x12, x11, 16; flw f4, -4(x12); fmv.x.w x14, f4; CHECK_REG(x14, 0x3f800000)
        CASE(6); li t0, 0x7fa00001; fmv.w.x f5, t0; fsw f5, 20(x11); lw x14, 20(x11)
        CHECK_REG(x14, 0x7fa00001)
        CASE(7); addi x12, x11, 32; li t0, 0xff800001; fmv.w.x f6, t0; fsw f6, -8(x12)
        lw x14, 24(x11); CHECK_REG(x14, 0xff800001)
        /* fmv.s (fsgnj.s fd, fs, fs) keeps an sNaN as is */
        CASE(8); fsflags zero; fmv.s f7, f1; fmv.x.w x14, f7; CHECK_REG(x14, 0x7f800001)
        frflags t1; FAIL_IF_NZ(t1)
        /* all 32 f registers hold independent values */
        CASE(9)
        .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        li t0, 0x40000000 + \r; fmv.w.x f\r, t0
        .endr
        .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        fmv.x.w x14, f\r; CHECK_REG(x14, 0x40000000 + \r)
        .endr

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        .balign 16
fdata:
        .word 0x7f800001, 0xffc12345, 0x80000000, 0x3f800000
        .word 0, 0, 0, 0
RVTEST_DATA_END
