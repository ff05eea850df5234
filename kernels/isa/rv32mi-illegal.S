/* rv32mi-illegal.S - illegal-instruction traps (hand-written, privileged spec 3.1.15/3.1.16):
 * mcause = 2, mepc = the instruction, mtval = its 32-bit encoding, rd not written; then execution
 * resumes after it. Encodings (fields from the unprivileged spec's opcode map):
 *   0x00000000  all-zero word (defined illegal)
 *   0x0000000b  custom-0 opcode
 *   0x0010051b  addiw a0, zero, 1  (OP-IMM-32, RV64 only)
 *   0x00b5053b  addw a0, a0, a1    (OP-32, RV64 only)
 *   0x00053503  ld a0, 0(a0)       (LOAD funct3 = 3, RV64 only)
 *   0x00a53023  sd a0, 0(a0)       (STORE funct3 = 3, RV64 only)
 *   0x003150d3  fadd.s f1, f2, f3, rm = 5 (reserved rounding mode)
 *   0x003160d3  fadd.s f1, f2, f3, rm = 6 (reserved rounding mode)
 *   0x023170d3  fadd.d f1, f2, f3  (D extension absent)
 *   0x00053087  fld f1, 0(a0)      (D extension absent)
 *   0x10200073  sret               (S-mode absent)
 *   0xc0001073  unimp = csrrw x0, cycle, x0 (write to a read-only CSR)
 *   0x003170d3  fadd.s f1, f2, f3, dyn with frm = 5 and frm = 7 (reserved dynamic mode)
 *   0x003100d3  fadd.s f1, f2, f3, rne with mstatus.FS = Off (FPU off), and flw / fmv.x.w /
 *               fcsr access with FS = Off
 *   0x00010001  a 16-bit (compressed) parcel: no C extension, so illegal (mtval not checked:
 *               it may hold 16 or 32 bits)
 * Reserved encodings in otherwise legal opcodes (decoder strictness):
 *   0x02059513 / 0x0205d513 / 0x4205d513  slli / srli / srai a0, a1, 32 (shamt[5] = 1: RV64 only)
 *   0x6015d513  OP-IMM funct3 = 5 with imm[11:5] = 0x30 (neither srli nor srai)
 *   0x40c59533  OP funct3 = 1 (sll) with funct7 = 0x20
 *   0x04c58533  OP funct3 = 0 with funct7 = 0x02
 *   0xc0208553  fcvt.l.s a0, f1 (rs2 = 2: RV64 only)
 *   0xc0408553  fcvt.?.s with rs2 = 4
 *   0xe000a553  funct7 = 0x70 with funct3 = 2 (only 0 = fmv.x.w and 1 = fclass.s exist)
 *   0xe0108553  fmv.x.w with rs2 = 1
 *   0x2020b0d3  fsgnj family with funct3 = 3
 *   0x2820a0d3  fmin/fmax with funct3 = 2
 *   0x581080d3  fsqrt.s with rs2 = 1
 *   0xa020b553  feq/flt/fle with funct3 = 3
 *   0xf01500d3  fmv.w.x with rs2 = 1
 *   0x0005e503  lwu a0, 0(a1) (RV64 only);  0x0005f503  LOAD funct3 = 7
 *   0x00a5c023  STORE funct3 = 4
 *   0x00002063  BRANCH funct3 = 2
 *   0x00059567  JALR funct3 = 1
 * (encodings checked with llvm-objdump: all <unknown> for riscv32 with +m,+f, except the
 * shamt[5] = 1 shifts, which LLVM 14's disassembler prints although the RV32 spec reserves them)
 */
#include "riscv_test.h"
#include "test_macros.h"

#define TEST_ILLEGAL(n, bits)                                               \
        CASE(n); li s2, -1; li a0, 0x5a5a5a5a; la a1, buf;                  \
1:      .word bits;                                                         \
        li t0, CAUSE_ILLEGAL_INSN; FAIL_IF_NE(s2, t0);                      \
        la t0, 1b; FAIL_IF_NE(s3, t0);                                      \
        li t0, bits; FAIL_IF_NE(s4, t0);                                    \
        CHECK_REG(a0, 0x5a5a5a5a)

RVTEST_RV32M
RVTEST_CODE_BEGIN

        RECORD_TRAPS_INSTALL
        TEST_ILLEGAL(2, 0x00000000)
        TEST_ILLEGAL(3, 0x0000000b)
        TEST_ILLEGAL(4, 0x0010051b)
        TEST_ILLEGAL(5, 0x00b5053b)
        TEST_ILLEGAL(6, 0x00053503)
        TEST_ILLEGAL(7, 0x00a53023)
        TEST_ILLEGAL(8, 0x003150d3)
        TEST_ILLEGAL(9, 0x003160d3)
        TEST_ILLEGAL(10, 0x023170d3)
        TEST_ILLEGAL(11, 0x00053087)
        TEST_ILLEGAL(12, 0x10200073)
        TEST_ILLEGAL(13, 0xc0001073)
        /* reserved dynamic rounding modes trap only when used */
        fsrmi 5
        TEST_ILLEGAL(14, 0x003170d3)
        fsrmi 7
        TEST_ILLEGAL(15, 0x003170d3)
        CASE(16); fsrmi 0; li s2, -1; li t0, 0x3f800000; fmv.w.x f2, t0; fmv.w.x f3, t0
        .word 0x003170d3                    /* now legal: f1 = 2.0 */
        li t0, -1; FAIL_IF_NE(s2, t0); fmv.x.w x14, f1; CHECK_REG(x14, 0x40000000)
        /* with mstatus.FS = Off every FP instruction and FP CSR access is illegal */
        li t0, MSTATUS_FS; csrc mstatus, t0
        TEST_ILLEGAL(17, 0x003100d3)
        CASE(18); li s2, -1
1:      fmv.x.w a0, f1
        li t0, CAUSE_ILLEGAL_INSN; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        CASE(19); li s2, -1
1:      csrr a0, fcsr
        li t0, CAUSE_ILLEGAL_INSN; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        CASE(20); li s2, -1; la a0, buf
1:      flw f1, 0(a0)
        li t0, CAUSE_ILLEGAL_INSN; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        li t0, MSTATUS_FS_INIT; csrs mstatus, t0
        /* FPU back on: the same instruction works */
        CASE(21); li s2, -1; fmv.x.w a0, f1; li t0, -1; FAIL_IF_NE(s2, t0)
        /* compressed parcel */
        CASE(22); li s2, -1
1:      .word 0x00010001
        li t0, CAUSE_ILLEGAL_INSN; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        TEST_ILLEGAL(23, 0x02059513)
        TEST_ILLEGAL(24, 0x0205d513)
        TEST_ILLEGAL(25, 0x4205d513)
        TEST_ILLEGAL(26, 0x6015d513)
        TEST_ILLEGAL(27, 0x40c59533)
        TEST_ILLEGAL(28, 0x04c58533)
        TEST_ILLEGAL(29, 0xc0208553)
        TEST_ILLEGAL(30, 0xc0408553)
        TEST_ILLEGAL(31, 0xe000a553)
        TEST_ILLEGAL(32, 0xe0108553)
        TEST_ILLEGAL(33, 0x2020b0d3)
        TEST_ILLEGAL(34, 0x2820a0d3)
        TEST_ILLEGAL(35, 0x581080d3)
        TEST_ILLEGAL(36, 0xa020b553)
        TEST_ILLEGAL(37, 0xf01500d3)
        TEST_ILLEGAL(38, 0x0005e503)
        TEST_ILLEGAL(39, 0x0005f503)
        TEST_ILLEGAL(40, 0x00a5c023)
        TEST_ILLEGAL(41, 0x00002063)
        TEST_ILLEGAL(42, 0x00059567)
        /* every trap above was counted once: 15 + 20 TEST_ILLEGAL traps + 4 others */
        CASE(43); CHECK_REG(s5, 39)

        la t0, trap_vector; csrw mtvec, t0
        TEST_PASSFAIL

        RECORD_TRAPS_HANDLER

RVTEST_CODE_END

RVTEST_DATA_BEGIN
buf:    .word 0, 0
RVTEST_DATA_END
