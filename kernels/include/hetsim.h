/* hetsim.h - bare-metal HAL for hetsim kernels (RV32IMF, ilp32f, M-mode, single hart today).
 *
 * What exists today (functional RV32IMF simulator, `hetsim exec FILE.elf`):
 *   - RAM at 0x80000000 (64 MiB by default); the image is linked there by kernels/link.ld.
 *   - Exit through the ELF symbol `tohost` (HTIF convention): storing the odd value
 *     (code << 1) | 1 ends the run with exit code `code` (1 = pass / exit 0). crt0.S does this
 *     with main's return value; hetsim_exit() does it from anywhere.
 *   - Alternatively `ecall` with a7 = 93 and a0 = code (used by the ISA self-tests).
 *   - CSRs mcycle/minstret (and cycle/instret), mhartid, misa, the trap CSRs and fcsr.
 *
 * Not there yet: the cluster memory map (TCDM, L2, peripherals: hart id, barrier, DMA, AIMC
 * tiles, console, exit port, region markers). Their addresses belong to the cluster model and
 * will be added to the "address map" section below (generated or checked by a test against the
 * model's table, DESIGN.md section 3). Until then nothing here invents an address, and there is no
 * console: hetsim_putchar() is only declared when HETSIM_CONSOLE_ADDR is defined.
 */
#ifndef HETSIM_H
#define HETSIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Address map of the cluster (hetsim kernel). The model's table is models/src/cluster/map.rs;
 * a test fails if any value here differs from it. Under `hetsim exec` (functional, single hart)
 * only L2/RAM at 0x80000000 and tohost exist.
 * ------------------------------------------------------------------------------------------- */
#define HETSIM_TCDM_BASE 0x10000000u
#define HETSIM_PERIPH_BASE 0x10020000u
#define HETSIM_DMA_BASE 0x10020400u
#define HETSIM_AIMC_BASE 0x10030000u
#define HETSIM_L2_BASE 0x80000000u

/* Peripheral registers (32-bit). */
#define HETSIM_NUM_CORES_ADDR 0x10020000u    /* R: cores in the cluster */
#define HETSIM_TCDM_END_ADDR 0x10020004u     /* R: one past the last TCDM byte */
#define HETSIM_BARRIER_ADDR 0x10020008u      /* R: blocks until every core has loaded it */
#define HETSIM_CYCLE_ADDR 0x1002000cu        /* R: cluster cycle counter (low 32 bits) */
#define HETSIM_REGION_BEGIN_ADDR 0x10020010u /* W: begin marked region id (1..255) */
#define HETSIM_REGION_END_ADDR 0x10020014u   /* W: end marked region id */
#define HETSIM_CONSOLE_ADDR 0x10020018u      /* W: console byte */
#define HETSIM_EXIT_ADDR 0x1002001cu         /* W: end the run with this exit code */

/* DMA registers (32-bit). */
#define HETSIM_DMA_SRC 0x10020400u
#define HETSIM_DMA_DST 0x10020404u
#define HETSIM_DMA_SIZE 0x10020408u       /* bytes per row */
#define HETSIM_DMA_SRC_STRIDE 0x1002040cu
#define HETSIM_DMA_DST_STRIDE 0x10020410u
#define HETSIM_DMA_REPS 0x10020414u       /* rows; 0 or 1 = 1-D */
#define HETSIM_DMA_START 0x10020418u      /* W: queue a transfer */
#define HETSIM_DMA_LAST_ID 0x1002041cu    /* R: id of the last queued transfer (from 1) */
#define HETSIM_DMA_DONE_ID 0x10020420u    /* R: id of the last completed transfer */
#define HETSIM_DMA_BUSY 0x10020424u       /* R: transfers queued or in flight */

/* Host-interface words, bound by ELF symbol (defined in crt0.S, section .tohost, 64-byte
 * aligned, 8 bytes each; only the low word is used). */
extern volatile uint32_t tohost[2];
extern volatile uint32_t fromhost[2];

/* Console byte port (cluster only). */
static inline void hetsim_putchar(char c)
{
    *(volatile uint32_t *)(uintptr_t)(HETSIM_CONSOLE_ADDR) = (uint8_t)c;
}

/* ---------------------------------------------------------------------------------------------
 * CSR access
 * ------------------------------------------------------------------------------------------- */
#define HETSIM_STR_(x) #x
#define HETSIM_STR(x) HETSIM_STR_(x)

/* read_csr(mcycle), read_csr(minstret), read_csr(mhartid), ... (CSR name, not a string). */
#define read_csr(csr)                                                    \
    ({                                                                   \
        uint32_t v_;                                                     \
        __asm__ volatile("csrr %0, " HETSIM_STR(csr) : "=r"(v_));        \
        v_;                                                              \
    })

#define write_csr(csr, val)                                              \
    do {                                                                 \
        uint32_t w_ = (uint32_t)(val);                                   \
        __asm__ volatile("csrw " HETSIM_STR(csr) ", %0" : : "r"(w_) : "memory"); \
    } while (0)

#ifndef HETSIM_USER_ENV
static inline uint32_t hetsim_hart_id(void) { return read_csr(mhartid); }
static inline uint32_t hetsim_cycles(void) { return read_csr(mcycle); }
static inline uint32_t hetsim_instret(void) { return read_csr(minstret); }
#else /* qemu-user reference build (make check-qemu): user-level counters, hart 0 */
static inline uint32_t hetsim_hart_id(void) { return 0; }
static inline uint32_t hetsim_cycles(void) { return read_csr(cycle); }
static inline uint32_t hetsim_instret(void) { return read_csr(instret); }
#endif

/* ---------------------------------------------------------------------------------------------
 * Exit
 * ------------------------------------------------------------------------------------------- */

/* End the run with exit code `code` (0 = pass). Does not return. */
static inline __attribute__((noreturn)) void hetsim_exit(int code)
{
    tohost[1] = 0;
    tohost[0] = ((uint32_t)code << 1) | 1u;
    for (;;) {
        __asm__ volatile("" ::: "memory");
    }
}

#ifdef __cplusplus
}
#endif

#endif /* HETSIM_H */
