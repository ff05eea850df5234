/* test_macros.h - test-case macros for the hetsim ISA self-tests (written for hetsim).
 *
 * Every case: gp (TESTNUM) = case number (>= 2; 1 means pass), compute, compare, `bne ..., fail`.
 * Registers: x11/x12/x13 operands, x14 result, x7 expected value, t0..t2 (x5, x6, x28) scratch;
 * FP: f1/f2/f3 operands, f4 result. Values are 32-bit integers or IEEE-754 single bit patterns.
 */
#ifndef HETSIM_TEST_MACROS_H
#define HETSIM_TEST_MACROS_H

#define CASE(n) li TESTNUM, n

/* Branch to `fail` when a != b. A test file can be longer than the +-4 KiB reach of a branch,
 * so it branches over a jal (+-1 MiB). Uses the local label 9: (reserved for these macros). */
#define FAIL_IF_NE(a, b) beq a, b, 9f; j fail; 9:
#define FAIL_IF_NZ(a) beqz a, 9f; j fail; 9:

/* Compare an integer register with an expected 32-bit value. */
#define CHECK_REG(reg, val) li x7, val; FAIL_IF_NE(reg, x7)

/* ---- integer register-register ------------------------------------------------------------- */
#define TEST_RR(n, op, res, a, b)                                           \
        CASE(n); li x11, a; li x12, b; op x14, x11, x12; CHECK_REG(x14, res)
#define TEST_RR_DEST_EQ_SRC1(n, op, res, a, b)                              \
        CASE(n); li x11, a; li x12, b; op x11, x11, x12; CHECK_REG(x11, res)
#define TEST_RR_DEST_EQ_SRC2(n, op, res, a, b)                              \
        CASE(n); li x11, a; li x12, b; op x12, x11, x12; CHECK_REG(x12, res)
#define TEST_RR_ALL_SAME(n, op, res, a)                                     \
        CASE(n); li x11, a; op x11, x11, x11; CHECK_REG(x11, res)
#define TEST_RR_SRC1_ZERO(n, op, res, b)                                    \
        CASE(n); li x12, b; op x14, x0, x12; CHECK_REG(x14, res)
#define TEST_RR_SRC2_ZERO(n, op, res, a)                                    \
        CASE(n); li x11, a; op x14, x11, x0; CHECK_REG(x14, res)
#define TEST_RR_DEST_ZERO(n, op, a, b)                                      \
        CASE(n); li x11, a; li x12, b; op x0, x11, x12; FAIL_IF_NZ(x0)

/* ---- integer register-immediate ------------------------------------------------------------ */
#define TEST_RI(n, op, res, a, imm)                                         \
        CASE(n); li x11, a; op x14, x11, imm; CHECK_REG(x14, res)
#define TEST_RI_DEST_EQ_SRC(n, op, res, a, imm)                             \
        CASE(n); li x11, a; op x11, x11, imm; CHECK_REG(x11, res)
#define TEST_RI_SRC_ZERO(n, op, res, imm)                                   \
        CASE(n); op x14, x0, imm; CHECK_REG(x14, res)
#define TEST_RI_DEST_ZERO(n, op, a, imm)                                    \
        CASE(n); li x11, a; op x0, x11, imm; FAIL_IF_NZ(x0)

/* ---- floating point ------------------------------------------------------------------------ */
/* Load bit patterns into f1..f3 (fmv.w.x raises no flags). */
#define FP_LOAD(freg, bits) li t0, bits; fmv.w.x freg, t0
/* Compare f4's bits with `res` and the accrued flags (read right after the op) with `flags`. */
#define FP_CHECK(res, flags)                                                \
        frflags t1; fmv.x.w x14, f4; CHECK_REG(x14, res);                   \
        li x7, flags; FAIL_IF_NE(t1, x7)

/* fd = op(fs1, fs2) with rounding mode `rm` (rne, rtz, rdn, rup, rmm or dyn). */
#define TEST_FP_RR(n, op, rm, flags, res, a, b)                             \
        CASE(n); FP_LOAD(f1, a); FP_LOAD(f2, b); fsflags zero;              \
        op f4, f1, f2, rm; FP_CHECK(res, flags)
/* fd = op(fs1, fs2) for ops without a rounding mode (fmin, fmax, fsgnj*) */
#define TEST_FP_RR_NORM(n, op, flags, res, a, b)                            \
        CASE(n); FP_LOAD(f1, a); FP_LOAD(f2, b); fsflags zero;              \
        op f4, f1, f2; FP_CHECK(res, flags)
/* fd = op(fs1, fs2, fs3) */
#define TEST_FP_RRR(n, op, rm, flags, res, a, b, c)                         \
        CASE(n); FP_LOAD(f1, a); FP_LOAD(f2, b); FP_LOAD(f3, c);            \
        fsflags zero; op f4, f1, f2, f3, rm; FP_CHECK(res, flags)
/* fd = op(fs1) (fsqrt) */
#define TEST_FP_R(n, op, rm, flags, res, a)                                 \
        CASE(n); FP_LOAD(f1, a); fsflags zero; op f4, f1, rm; FP_CHECK(res, flags)
/* xd = op(fs1, fs2) (feq, flt, fle) */
#define TEST_FP_CMP(n, op, flags, res, a, b)                                \
        CASE(n); FP_LOAD(f1, a); FP_LOAD(f2, b); fsflags zero;              \
        op x14, f1, f2; frflags t1; CHECK_REG(x14, res);                    \
        li x7, flags; FAIL_IF_NE(t1, x7)
/* xd = op(fs1) with rounding mode (fcvt.w.s, fcvt.wu.s) */
#define TEST_FP_TOINT(n, op, rm, flags, res, a)                             \
        CASE(n); FP_LOAD(f1, a); fsflags zero; op x14, f1, rm; frflags t1;  \
        CHECK_REG(x14, res); li x7, flags; FAIL_IF_NE(t1, x7)
/* fd = op(xs1) with rounding mode (fcvt.s.w, fcvt.s.wu) */
#define TEST_FP_FROMINT(n, op, rm, flags, res, a)                           \
        CASE(n); li x11, a; fsflags zero; op f4, x11, rm; FP_CHECK(res, flags)
/* xd = fclass.s(fs1) */
#define TEST_FP_CLASS(n, res, a)                                            \
        CASE(n); FP_LOAD(f1, a); fsflags zero; fclass.s x14, f1; frflags t1; \
        CHECK_REG(x14, res); FAIL_IF_NZ(t1)

/* Set the dynamic rounding mode (frm) for the following `dyn` cases. */
#define SET_FRM(mode) fsrmi mode

/* ---- branches ------------------------------------------------------------------------------ */
/* Taken forward, taken backward, and not taken (the not-taken target is `fail`-guarded). */
#define TEST_BR_TAKEN(n, op, a, b)                                          \
        CASE(n); li x11, a; li x12, b;                                      \
        op x11, x12, 1f; j fail; 1:                                         \
        j 3f; 2: j 4f; 3: op x11, x12, 2b; j fail; 4:
#define TEST_BR_NOT_TAKEN(n, op, a, b)                                      \
        CASE(n); li x11, a; li x12, b;                                      \
        op x11, x12, 2f; j 3f; 2: j fail; 3:                                \
        j 5f; 4: j fail; 5: op x11, x12, 4b

/* ---- machine-mode trap tests (RVTEST_RV32M) -------------------------------------------------- */
/* RECORD_TRAPS_INSTALL points mtvec at rvtest_record_trap (emitted by RECORD_TRAPS_HANDLER at the
 * end of the file). The handler records mcause -> s2, mepc -> s3, mtval -> s4, mstatus -> s7,
 * counts traps in s5, then resumes at mepc + 4 in the trapped mode, or, if s6 != 0, jumps to s6
 * in M-mode (s6 is cleared). An ecall with a7 = 93 (the pass/fail exit) is forwarded to the
 * environment's trap_vector. Clobbers t6. */
#define RECORD_TRAPS_INSTALL                                                \
        la t0, rvtest_record_trap; csrw mtvec, t0; li s5, 0; li s6, 0
#define RECORD_TRAPS_HANDLER                                                \
        .balign 4;                                                          \
rvtest_record_trap:                                                         \
        csrr s2, mcause;                                                    \
        li t6, 93; bne a7, t6, 1f;                                          \
        li t6, CAUSE_ECALL_U; beq s2, t6, trap_vector;                      \
        li t6, CAUSE_ECALL_M; beq s2, t6, trap_vector;                      \
1:      csrr s3, mepc; csrr s4, mtval; csrr s7, mstatus; addi s5, s5, 1;    \
        bnez s6, 2f;                                                        \
        addi t6, s3, 4; csrw mepc, t6; mret;                                \
2:      mv t6, s6; li s6, 0; jr t6

/* Run the code at label `ulabel` in U-mode; a trap there continues (in M-mode) at `cont`. */
#define GOTO_USER(ulabel, cont)                                             \
        la s6, cont; li t0, MSTATUS_MPP; csrc mstatus, t0;                  \
        la t0, ulabel; csrw mepc, t0; mret

/* ---- end of test --------------------------------------------------------------------------- */
#define TEST_PASSFAIL                                                       \
        bnez TESTNUM, pass;                                                 \
fail:                                                                       \
        RVTEST_FAIL;                                                        \
pass:                                                                       \
        RVTEST_PASS

#endif /* HETSIM_TEST_MACROS_H */
