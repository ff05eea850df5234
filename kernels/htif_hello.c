/* htif_hello.c - a bare-metal program written for the usual RISC-V golden model (Spike and its
 * front-end server), not for hetsim: it brings its own start-up code, its own `tohost` and
 * `fromhost`, and prints through the HTIF syscall proxy as riscv-tests' benchmarks and riscv-pk
 * do (benchmarks/common/syscalls.c): it fills a 64-byte-aligned block of eight 64-bit words
 * [syscall number, arg0, arg1, arg2, ...], stores the block's address to `tohost`, waits until
 * the host sets `fromhost`, clears it and reads the result from the block's first word.
 * `hetsim exec build/htif_hello.elf` serves it (docs/debugging.md, "Programs for Spike"):
 *
 *     hello from a Spike-style program: 42
 *
 * then exit code 0 through the exit syscall (93). Linked with link.ld alone (no crt0, no HAL).
 *
 * Variants (kernels/Makefile) for the error tests in sim/tests/htif.rs:
 *   HTIF_MODE=1 (build/htif_unknown.elf): after the line, asks for syscall 1234;
 *   HTIF_MODE=2 (build/htif_badblock.elf): after the line, writes a block address outside
 *   memory (0x40) to tohost.
 */
#include <stdint.h>

#ifndef HTIF_MODE
#define HTIF_MODE 0
#endif

#define SYS_WRITE 64
#define SYS_EXIT 93

/* The host-interface words, 64-bit as on Spike (the low word carries the value on RV32). */
volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));

/* One proxied system call; returns the block's first word after the host has answered. */
static uint64_t htif_call(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2)
{
    volatile uint64_t block[8] __attribute__((aligned(64)));
    block[0] = number;
    block[1] = a0;
    block[2] = a1;
    block[3] = a2;
    __asm__ volatile("fence" ::: "memory");
    tohost = (uint64_t)(uintptr_t)block;
    while (fromhost == 0) {
    }
    fromhost = 0;
    __asm__ volatile("fence" ::: "memory");
    return block[0];
}

static uint32_t length(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

static int print(const char *s)
{
    uint32_t n = length(s);
    return htif_call(SYS_WRITE, 1, (uintptr_t)s, n) == n ? 0 : 1;
}

int main(void)
{
    volatile uint32_t answer = 42;
    char digits[4];
    digits[0] = (char)('0' + answer / 10);
    digits[1] = (char)('0' + answer % 10);
    digits[2] = '\n';
    digits[3] = 0;
    int bad = print("hello from a Spike-style program: ") | print(digits);
#if HTIF_MODE == 1
    htif_call(1234, 0, 0, 0);
#elif HTIF_MODE == 2
    tohost = 0x40;
    while (fromhost == 0) {
    }
#endif
    htif_call(SYS_EXIT, (uint64_t)bad, 0, 0);
    for (;;) {
    }
}

/* Start-up: a stack (link.ld's __stack_top), then main. */
__asm__(".section .text.init, \"ax\", @progbits\n"
        ".globl _start\n"
        "_start:\n"
        "    la sp, __stack_top\n"
        "    call main\n"
        "1:  j 1b\n");
