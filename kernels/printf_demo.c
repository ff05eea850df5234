/* printf_demo.c - every conversion of the HAL's printf (include/hetsim_printf.h), for
 * docs/kernels.md and the tests in sim/tests/htif.rs (exact output under `hetsim exec` and
 * `hetsim kernel`) and tests/tests/qemu_kernels.rs (the user-mode build prints the same under
 * qemu-riscv32 and hetsim).
 *
 * Three ELFs come from this file (kernels/Makefile):
 *   build/printf_demo.elf          single core (crt0.S): `hetsim exec`;
 *   build/printf_demo_cluster.elf  cluster (crt0-cluster.S): `hetsim kernel`; core 0 prints the
 *                                  conversions, then every core prints one line, in core order
 *                                  (a barrier between turns), each line prefixed "[core N] ";
 *   build/user/printf_demo.elf     Linux user mode (qemu-riscv32 and `hetsim exec`).
 */
#include "hetsim.h"
#include "hetsim_printf.h"

/* Inputs in .data, so the compiler cannot fold the conversions away. */
volatile int32_t neg = -42;
volatile uint32_t big = 4000000000u;
volatile uint32_t mask = 0xbeefu;
volatile float third = 1.0f / 3.0f;
volatile float tiny = 1.0e-7f;
volatile float huge = 3.0e38f;
volatile float half = 2.5f;

int main(int hart, int ncores)
{
    if (hart == 0) {
        hetsim_printf("d: %d %i %5d|%-5d|%05d\n", neg, 7, 42, 42, neg);
        hetsim_printf("u: %u %u\n", big, 0u);
        hetsim_printf("x: %x %X %08x\n", mask, mask, mask);
        hetsim_printf("s: %s|%6s|%-6s|\n", "kernel", "ab", "ab");
        hetsim_printf("c: %c%c%c\n", 'o', 'k', '!');
        hetsim_printf("f: %f %.2f %.0f %.0f %8.3f\n", third, -1.005f, half, 3.5f, 2.0f);
        hetsim_printf("f: %.9f %f %.1f\n", tiny, huge, -0.0f);
        hetsim_printf("%%: 100%% done\n");
    }
    /* One line per core, in core order (under exec and Linux: one core, no barrier). */
    uint32_t n = ncores > 1 ? (uint32_t)ncores : 1u;
    for (uint32_t turn = 0; turn < n; turn++) {
        if (turn == (uint32_t)hart)
            hetsim_printf("core %d of %u says hello\n", hart, n);
        if (n > 1)
            hetsim_barrier();
    }
    return 0;
}
