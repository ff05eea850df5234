/* rv32uf-fcsr.S - Zicsr on the FP CSRs (hand-written from the F chapter): fcsr = frm[7:5] |
 * fflags[4:0]; fflags (0x001) and frm (0x002) are views of fcsr (0x003); bits 31:8 of fcsr read 0
 * and ignore writes; swaps return the old value; flags accrue (OR) and are cleared only by
 * software. frm may hold any 3-bit value (5..7 are only illegal when used by `dyn`). */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32UF
RVTEST_CODE_BEGIN

        CASE(2); fscsr zero; frcsr x14; CHECK_REG(x14, 0)
        CASE(3); li t0, 0xff; fscsr x14, t0; CHECK_REG(x14, 0)
        frcsr x14; CHECK_REG(x14, 0xff); frrm x14; CHECK_REG(x14, 7); frflags x14; CHECK_REG(x14, 0x1f)
        CASE(4); li t0, -1; fscsr t0; frcsr x14; CHECK_REG(x14, 0xff)
        CASE(5); li t0, 0x03; fsflags x14, t0; CHECK_REG(x14, 0x1f)
        frflags x14; CHECK_REG(x14, 0x03); frrm x14; CHECK_REG(x14, 7); frcsr x14; CHECK_REG(x14, 0xe3)
        CASE(6); li t0, 2; fsrm x14, t0; CHECK_REG(x14, 7); frcsr x14; CHECK_REG(x14, 0x43)
        CASE(7); fsflagsi x14, 0x1c; CHECK_REG(x14, 0x03); fsrmi x14, 1; CHECK_REG(x14, 2)
        frcsr x14; CHECK_REG(x14, 0x3c)
        /* set/clear forms on the views */
        CASE(8); csrrsi x14, fflags, 1; CHECK_REG(x14, 0x1c); csrrci x14, fflags, 0x18
        CHECK_REG(x14, 0x1d); frflags x14; CHECK_REG(x14, 0x05)
        CASE(9); csrrsi x14, frm, 6; CHECK_REG(x14, 1); frrm x14; CHECK_REG(x14, 7)
        csrrci x14, frm, 3; frrm x14; CHECK_REG(x14, 4); frcsr x14; CHECK_REG(x14, 0x85)
        /* out-of-field bits are dropped by the views */
        CASE(10); li t0, 0xff; fsflags t0; frcsr x14; CHECK_REG(x14, 0x9f)
        CASE(11); li t0, 0xf9; fsrm t0; frcsr x14; CHECK_REG(x14, 0x3f)
        /* fcsr by name and number */
        CASE(12); li t0, 0x12; csrw fcsr, t0; csrr x14, 0x003; CHECK_REG(x14, 0x12)
        csrr x14, 0x001; CHECK_REG(x14, 0x12); csrr x14, 0x002; CHECK_REG(x14, 0)
        /* flags accrue across instructions; an exact operation does not clear them */
        CASE(13); fscsr zero
        li t0, 0x3f800000; fmv.w.x f1, t0; fmv.w.x f2, zero
        fdiv.s f3, f1, f2                   /* 1/0: DZ */
        li t0, 0x40400000; fmv.w.x f2, t0
        fdiv.s f3, f1, f2                   /* 1/3: NX */
        fadd.s f3, f1, f1                   /* exact */
        frflags x14; CHECK_REG(x14, 0x09)
        /* flags set by a compare and a conversion accrue too */
        CASE(14); li t0, 0x7fc00000; fmv.w.x f2, t0; flt.s x15, f2, f1; fcvt.w.s x15, f2
        frflags x14; CHECK_REG(x14, 0x19)
        /* the dynamic rounding mode is read at each instruction */
        CASE(15); fsrmi 3; li t0, 0x3f800000; fmv.w.x f1, t0; li t0, 0x33800000; fmv.w.x f2, t0
        fadd.s f3, f1, f2, dyn; fsrmi 0; fadd.s f4, f1, f2, dyn
        fmv.x.w x14, f3; CHECK_REG(x14, 0x3f800001); fmv.x.w x14, f4; CHECK_REG(x14, 0x3f800000)
        fscsr zero

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
RVTEST_DATA_END
