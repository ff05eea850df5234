/* rv32ui-fence_i.S - Zifencei: instructions written by stores execute after fence.i, also when
 * the same address was executed before the store (a decode cache must not serve stale code).
 * Hand-encoded instructions: addi a0, x0, 42 = 0x02a00513; addi a0, x0, 43 = 0x02b00513;
 * ret (jalr x0, 0(ra)) = 0x00008067; addi x14, x0, 1 = 0x00100713. */
#include "riscv_test.h"
#include "test_macros.h"

RVTEST_RV32U
RVTEST_CODE_BEGIN

        /* write a two-instruction function into a data buffer, run it */
        CASE(2); la x11, smc_buf
        li t0, 0x02a00513; sw t0, 0(x11)
        li t0, 0x00008067; sw t0, 4(x11)
        fence.i
        li a0, 0; jalr ra, 0(x11); CHECK_REG(a0, 42)

        /* overwrite the already-executed instruction, run again */
        CASE(3); li t0, 0x02b00513; sw t0, 0(x11)
        fence.i
        li a0, 0; jalr ra, 0(x11); CHECK_REG(a0, 43)

        /* run it twice more without changes (cached path stays correct) */
        CASE(4); li a0, 0; jalr ra, 0(x11); CHECK_REG(a0, 43)

        /* patch an instruction further down the current instruction stream */
        CASE(5); la x12, 1f; li t0, 0x00100713; sw t0, 0(x12)
        fence.i
        li x14, 0
1:      addi x14, x0, 0
        CHECK_REG(x14, 1)

        /* the same patch site executed in a loop, patched to a different immediate before every
         * pass (addi x14, x0, k = 0x00000713 | k << 20, k = 1, 2, 3): a stale copy would repeat an
         * old value. The site is restored to addi x14, x0, 0 afterwards. */
        CASE(6); li x13, 0; li x15, 0
2:      la x12, 3f; addi t1, x13, 1; slli t1, t1, 20; li t0, 0x00000713; or t0, t0, t1
        sw t0, 0(x12)
        fence.i
3:      addi x14, x0, 0
        add x15, x15, x14
        addi x13, x13, 1; li t1, 3; blt x13, t1, 2b
        li t0, 0x00000713; sw t0, 0(x12); fence.i
        CHECK_REG(x15, 6)

        TEST_PASSFAIL

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        .balign 16
smc_buf:
        .word 0, 0, 0, 0
RVTEST_DATA_END
