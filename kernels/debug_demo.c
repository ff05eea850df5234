/* debug_demo.c - the kernel that breaks on purpose, for docs/debugging.md and
 * tests/tests/firmware_debug.rs. Built with -g (DWARF line tables; paths relative to kernels/
 * through -ffile-prefix-map) so hetsim's reports name file:line as well as symbol+offset.
 *
 * Three ELFs come from this file (kernels/Makefile, "debugging fixtures"):
 *   build/debug_demo.elf       cluster (crt0-cluster.S); `fault_mode` and `fault_core` are
 *                              initialised data, so `hetsim kernel --input fault_mode=M.bin`
 *                              picks the failure at run time;
 *   build/debug_demo_jump.elf  single core (crt0.S), FAULT_MODE=1: a call through a bad pointer;
 *   build/debug_demo_hang.elf  single core (crt0.S), FAULT_MODE=5: an endless loop.
 *
 * Modes: 0 = run correctly (out_data = 2 * in_data + scratch), 1 = call a function at
 * 0x12345678 (nothing is mapped there), 2 = load from address 4 (unmapped), 3 = execute an
 * illegal instruction (the word 0), 4 = recurse deeper than a cluster core's 1 KiB stack,
 * 5 = loop forever. Only core `fault_core` fails; the others wait a little and return.
 *
 * Uses nothing of the HAL, so the same code runs under crt0.S (exec) and crt0-cluster.S.
 */
#ifndef FAULT_MODE
#define FAULT_MODE 0
#endif

/* Zero-initialised globals land in .bss, which crt0 clears before main (hetsim refuses --input
 * there); the section attribute keeps these in .data, so --input can set them. */
#define DATA __attribute__((section(".data")))
DATA volatile int fault_mode = FAULT_MODE; /* may be set with --input */
DATA volatile int fault_core = 0;
DATA volatile int depth = 8; /* recursion depth of mode 4 */
float in_data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; /* .data */
float scratch[16];  /* .bss: zeroed by crt0 before main, so --input cannot fill it */
float out_data[16]; /* .bss: read it back with --output out_data=Y.npy */

typedef void (*handler_fn)(void);

__attribute__((noinline)) static int recurse(int n) {
    volatile char frame[200];
    for (int i = 0; i < 200; i++) {
        frame[i] = (char)n;
    }
    if (n == 0) {
        return frame[199];
    }
    return recurse(n - 1) + frame[199];
}

__attribute__((noinline)) static void fail(int mode) {
    if (mode == 1) {
        handler_fn f = (handler_fn)0x12345678u;
        f();
    } else if (mode == 2) {
        volatile int *p = (volatile int *)4;
        (void)*p;
    } else if (mode == 3) {
        __asm__ volatile(".word 0");
    } else if (mode == 4) {
        (void)recurse(depth);
    } else if (mode == 5) {
        for (;;) {
            __asm__ volatile("");
        }
    }
}

int main(int hartid, int ncores) {
    (void)ncores;
    if (hartid == fault_core) {
        fail(fault_mode);
    } else {
        for (volatile int i = 0; i < 2000; i++) {
        }
    }
    if (hartid == 0) {
        for (int i = 0; i < 16; i++) {
            out_data[i] = 2.0f * in_data[i] + scratch[i];
        }
    }
    return 0;
}
