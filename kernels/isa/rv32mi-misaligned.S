/* rv32mi-misaligned.S - misaligned data accesses and misaligned jump/branch targets
 * (hand-written, privileged spec 3.1.15 and unprivileged 2.2/2.6).
 *
 * Data: the platform may either perform a misaligned load/store in hardware (then the loaded value
 * / the stored bytes must be exactly those of the little-endian byte sequence) OR raise the
 * architected exception: mcause 4 (load address misaligned) / 6 (store/AMO address misaligned),
 * mepc = the access, mtval = the misaligned effective address, rd not written. This test accepts
 * either behaviour, per access (hetsim: `hetsim exec --misaligned trap|allow`). After a trapped
 * store the memory is not checked (a trapped store may not have been performed at all).
 *
 * Instruction addresses: without the C extension (IALIGN = 32) a taken jal/jalr/branch to an
 * address that is not 4-byte aligned raises mcause 0 (instruction address misaligned) on the jump
 * itself: mepc = the jump, mtval = the target, rd not written. A branch that is not taken never
 * traps. jalr clears only bit 0, so a target of base + 2 is misaligned. */
#include "riscv_test.h"
#include "test_macros.h"

/* load: x14 = op off(x11) with x11 = mdata; expect `res` or a load-misaligned trap */
#define TEST_MIS_LD(n, op, off, res)                                        \
        CASE(n); la x11, mdata; li s2, -1; li x14, 0x5a5a5a5a;              \
1:      op x14, off(x11);                                                   \
        li t0, -1; bne s2, t0, 2f;                                          \
        CHECK_REG(x14, res); j 3f;                                          \
2:      li t0, CAUSE_MISALIGNED_LOAD; FAIL_IF_NE(s2, t0);                   \
        la t0, 1b; FAIL_IF_NE(s3, t0);                                      \
        addi t0, x11, off; FAIL_IF_NE(s4, t0);                              \
        CHECK_REG(x14, 0x5a5a5a5a);                                         \
3:

/* store `val` with op at off(x11), x11 = sdata (refilled with 0xaa bytes first); if it did not
 * trap, the three words of sdata must equal w0, w1, w2 */
#define TEST_MIS_ST(n, op, off, val, w0, w1, w2)                            \
        CASE(n); la x11, sdata; li t0, 0xaaaaaaaa;                          \
        sw t0, 0(x11); sw t0, 4(x11); sw t0, 8(x11);                        \
        li x12, val; li s2, -1;                                             \
1:      op x12, off(x11);                                                   \
        li t0, -1; bne s2, t0, 2f;                                          \
        lw x14, 0(x11); CHECK_REG(x14, w0);                                 \
        lw x14, 4(x11); CHECK_REG(x14, w1);                                 \
        lw x14, 8(x11); CHECK_REG(x14, w2); j 3f;                           \
2:      li t0, CAUSE_MISALIGNED_STORE; FAIL_IF_NE(s2, t0);                  \
        la t0, 1b; FAIL_IF_NE(s3, t0);                                      \
        addi t0, x11, off; FAIL_IF_NE(s4, t0);                              \
3:

RVTEST_RV32M
RVTEST_CODE_BEGIN

        RECORD_TRAPS_INSTALL

        /* mdata bytes: 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff */
        TEST_MIS_LD(2, lw, 1, 0x44332211)
        TEST_MIS_LD(3, lw, 2, 0x55443322)
        TEST_MIS_LD(4, lw, 3, 0x66554433)
        TEST_MIS_LD(5, lw, 7, 0xaa998877)
        TEST_MIS_LD(6, lh, 1, 0x00002211)
        TEST_MIS_LD(7, lh, 3, 0x00004433)
        TEST_MIS_LD(8, lh, 9, 0xffffaa99)
        TEST_MIS_LD(9, lhu, 11, 0x0000ccbb)
        TEST_MIS_LD(10, lhu, 7, 0x00008877)
        /* aligned and byte accesses never trap */
        CASE(11); li s5, 0; la x11, mdata; lb x14, 3(x11); lbu x14, 13(x11); lh x14, 2(x11)
        lw x14, 12(x11); FAIL_IF_NZ(s5)

        TEST_MIS_ST(12, sw, 1, 0x11223344, 0x223344aa, 0xaaaaaa11, 0xaaaaaaaa)
        TEST_MIS_ST(13, sw, 2, 0x11223344, 0x3344aaaa, 0xaaaa1122, 0xaaaaaaaa)
        TEST_MIS_ST(14, sw, 3, 0x11223344, 0x44aaaaaa, 0xaa112233, 0xaaaaaaaa)
        TEST_MIS_ST(15, sw, 6, 0xdeadbeef, 0xaaaaaaaa, 0xbeefaaaa, 0xaaaadead)
        TEST_MIS_ST(16, sh, 1, 0x12345678, 0xaa5678aa, 0xaaaaaaaa, 0xaaaaaaaa)
        TEST_MIS_ST(17, sh, 3, 0x12345678, 0x78aaaaaa, 0xaaaaaa56, 0xaaaaaaaa)
        TEST_MIS_ST(18, sh, 7, 0x0000beef, 0xaaaaaaaa, 0xefaaaaaa, 0xaaaaaabe)

        /* misaligned jump targets */
        CASE(19); li s2, -1; li x13, 0x77; la t1, 4f
1:      jalr x13, 2(t1)
        li t0, CAUSE_MISALIGNED_FETCH; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        addi t0, t1, 2; FAIL_IF_NE(s4, t0); CHECK_REG(x13, 0x77); j 5f
        .balign 4
4:      j fail; j fail
5:
        /* beq x0, x0, .+6 = 0x00000363 (taken: traps); bne x0, x0, .+6 = 0x00001363 (not taken) */
        CASE(20); li s2, -1
1:      .word 0x00000363
        li t0, CAUSE_MISALIGNED_FETCH; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        addi t0, t0, 6; FAIL_IF_NE(s4, t0)
        CASE(21); li s2, -1
        .word 0x00001363
        li t0, -1; FAIL_IF_NE(s2, t0)
        /* jal ra, .+6 = 0x006000ef: traps, ra unchanged */
        CASE(22); li s2, -1; li ra, 0x66
1:      .word 0x006000ef
        li t0, CAUSE_MISALIGNED_FETCH; FAIL_IF_NE(s2, t0); la t0, 1b; FAIL_IF_NE(s3, t0)
        addi t0, t0, 6; FAIL_IF_NE(s4, t0); CHECK_REG(ra, 0x66)

        la t0, trap_vector; csrw mtvec, t0
        TEST_PASSFAIL

        RECORD_TRAPS_HANDLER

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        .balign 16
mdata:  .byte 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77
        .byte 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
sdata:  .word 0, 0, 0, 0
RVTEST_DATA_END
