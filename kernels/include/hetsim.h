/* hetsim.h - bare-metal HAL for hetsim kernels (RV32IMF, ilp32f, M-mode).
 *
 * Two ways to run a kernel:
 *   - `hetsim exec FILE.elf`: the functional RV32IMF simulator, one hart, RAM at 0x80000000
 *     (64 MiB by default). Only L2/RAM and tohost exist there (no peripherals). Single-core
 *     kernels: crt0.S + link.ld.
 *   - `hetsim kernel FILE.elf --cluster CONFIG.ron`: the cycle-level Snitch-class cluster: N cores
 *     (default 9: compute cores 0..N-2, DMA core N-1), TCDM (L1) at HETSIM_TCDM_BASE, L2 at
 *     0x80000000, and the peripherals below (core count, barrier, DMA, console, exit port,
 *     region markers). Cluster kernels: crt0-cluster.S + link-cluster.ld; conventions in
 *     docs/kernels.md ("Cluster runtime").
 *
 * Exit, in both: a store to the ELF symbol `tohost` (HTIF convention): the odd value
 * (code << 1) | 1 ends the run with exit code `code` (1 = pass / exit 0); hetsim_exit() does it
 * from anywhere, crt0 with main's return value. Alternatively `ecall` with a7 = 93, a0 = code
 * (handled by crt0's trap handler). CSRs mcycle/minstret (and cycle/instret), mhartid, misa,
 * the trap CSRs and fcsr.
 *
 * The address map below mirrors models/src/cluster/map.rs (a test there checks every
 * `#define HETSIM_<NAME> 0x...` here against the model's table, so non-address constants are
 * written in decimal). This header is also usable from assembly (.S): the C part is skipped
 * under __ASSEMBLER__, and the addresses carry no C suffixes.
 */
#ifndef HETSIM_H
#define HETSIM_H

/* ---------------------------------------------------------------------------------------------
 * Address map of the cluster (hetsim kernel). The model's table is models/src/cluster/map.rs;
 * a test fails if any value here differs from it. Under `hetsim exec` (functional, single hart)
 * only L2/RAM at 0x80000000 and tohost exist.
 * ------------------------------------------------------------------------------------------- */
#define HETSIM_TCDM_BASE 0x10000000
#define HETSIM_PERIPH_BASE 0x10020000
#define HETSIM_DMA_BASE 0x10020400
#define HETSIM_REDMULE_BASE 0x10020800 /* RedMulE registers (docs/redmule.md), when present */
#define HETSIM_AIMC_BASE 0x10030000
#define HETSIM_L2_BASE 0x80000000

/* Peripheral registers (32-bit). */
#define HETSIM_NUM_CORES_ADDR 0x10020000    /* R: cores in the cluster */
#define HETSIM_TCDM_END_ADDR 0x10020004     /* R: one past the last TCDM byte */
#define HETSIM_BARRIER_ADDR 0x10020008      /* R: blocks until every core has loaded it */
#define HETSIM_CYCLE_ADDR 0x1002000c        /* R: cluster cycle counter (low 32 bits) */
#define HETSIM_REGION_BEGIN_ADDR 0x10020010 /* W: begin marked region id (1..255) */
#define HETSIM_REGION_END_ADDR 0x10020014   /* W: end marked region id */
#define HETSIM_CONSOLE_ADDR 0x10020018      /* W: console byte */
#define HETSIM_EXIT_ADDR 0x1002001c         /* W: end the run with this exit code */

/* DMA registers (32-bit). */
#define HETSIM_DMA_SRC 0x10020400
#define HETSIM_DMA_DST 0x10020404
#define HETSIM_DMA_SIZE 0x10020408       /* bytes per row */
#define HETSIM_DMA_SRC_STRIDE 0x1002040c
#define HETSIM_DMA_DST_STRIDE 0x10020410
#define HETSIM_DMA_REPS 0x10020414       /* rows; 0 or 1 = 1-D */
#define HETSIM_DMA_START 0x10020418      /* W: queue a transfer */
#define HETSIM_DMA_LAST_ID 0x1002041c    /* R: id of the last queued transfer (from 1) */
#define HETSIM_DMA_DONE_ID 0x10020420    /* R: id of the last completed transfer */
#define HETSIM_DMA_BUSY 0x10020424       /* R: transfers queued or in flight */

/* RedMulE registers (32-bit, word accesses; docs/redmule.md), when the cluster has the engine
 * (`redmule: Some(..)`); without it any access is a bus fault. */
#define HETSIM_REDMULE_TRIGGER 0x10020800     /* W: queue the programmed job */
#define HETSIM_REDMULE_ACQUIRE 0x10020804     /* R: next job id if a context is free, else < 0 */
#define HETSIM_REDMULE_FINISHED 0x10020808    /* R: jobs completed since SOFT_CLEAR */
#define HETSIM_REDMULE_STATUS 0x1002080c      /* R: non-zero while a job runs or waits */
#define HETSIM_REDMULE_SOFT_CLEAR 0x10020814  /* W: abort every job, reset the registers */
#define HETSIM_REDMULE_X_ADDR 0x10020840      /* X (M x N), binary16, row-major, in TCDM */
#define HETSIM_REDMULE_W_ADDR 0x10020844      /* W (N x K) */
#define HETSIM_REDMULE_Z_ADDR 0x10020848      /* Z (M x K): GEMM bias in, result out */
#define HETSIM_REDMULE_MCFG0 0x1002084c       /* [31:16] K, [15:0] M */
#define HETSIM_REDMULE_MCFG1 0x10020850       /* N */
#define HETSIM_REDMULE_ARITH 0x10020854       /* [12:10] op, [9:7] format */
#define HETSIM_REDMULE_ERROR 0x10020880       /* R: code of the last refused/aborted job, 0 = none */
#define HETSIM_REDMULE_LAST_CYCLES 0x10020884 /* R: cycles of the last completed job */
/* ARITH values (decimal: not addresses): op << 10 | format << 7, format 1 = FP16. */
#define HETSIM_REDMULE_MATMUL_FP16 128 /* op 0: Z = X W */
#define HETSIM_REDMULE_GEMM_FP16 1152  /* op 1: Z = X W + Z */

/* Cluster runtime constants (decimal: not addresses of the map). Each hart's stack is the
 * STACK_PER_HART bytes below TCDM_END - hartid * STACK_PER_HART (crt0-cluster.S); TCDM data
 * must stay below TCDM_END - NUM_CORES * STACK_PER_HART (hetsim_tcdm_free_end()). */
#define HETSIM_STACK_PER_HART 1024
#define HETSIM_MAX_CORES 32 /* upper bound on NUM_CORES assumed by per-core tables */

#ifndef __ASSEMBLER__
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Host-interface words, bound by ELF symbol (defined in crt0.S, section .tohost, 64-byte
 * aligned, 8 bytes each; only the low word is used). */
extern volatile uint32_t tohost[2];
extern volatile uint32_t fromhost[2];

#define HETSIM_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* Compiler barrier: memory accesses are not moved across it (the cores are in-order and the
 * cluster's memory is sequentially consistent, so no fence is needed in hardware). */
#define hetsim_compiler_barrier() __asm__ volatile("" ::: "memory")

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
#else /* user-mode build (build/user/): hart 0; counters read 0 so that runs under qemu and
        * hetsim leave identical memory (their cycle counts are not comparable) */
static inline uint32_t hetsim_hart_id(void) { return 0; }
static inline uint32_t hetsim_cycles(void) { return 0; }
static inline uint32_t hetsim_instret(void) { return 0; }
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

/* ---------------------------------------------------------------------------------------------
 * Cluster HAL (hetsim kernel --cluster only: these touch the peripheral window)
 * ------------------------------------------------------------------------------------------- */

/* Console byte port. */
static inline void hetsim_putchar(char c) { HETSIM_REG(HETSIM_CONSOLE_ADDR) = (uint8_t)c; }

static inline void hetsim_puts(const char *s)
{
    while (*s)
        hetsim_putchar(*s++);
}

/* Unsigned decimal (no libc). */
static inline void hetsim_putu(uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        hetsim_putchar(buf[--n]);
}

/* Cores in the cluster (N); the DMA core is N - 1, compute cores are 0 .. N - 2. */
static inline uint32_t hetsim_num_cores(void) { return HETSIM_REG(HETSIM_NUM_CORES_ADDR); }
static inline int hetsim_is_dma_core(void) { return hetsim_hart_id() == hetsim_num_cores() - 1; }

/* One past the last TCDM byte, and one past the last byte usable for TCDM data (the stacks of
 * all harts sit above it). */
static inline uint32_t hetsim_tcdm_end(void) { return HETSIM_REG(HETSIM_TCDM_END_ADDR); }
static inline uint32_t hetsim_tcdm_free_end(void)
{
    return hetsim_tcdm_end() - hetsim_num_cores() * (uint32_t)HETSIM_STACK_PER_HART;
}
/* End of the static TCDM data (section .tcdm, link-cluster.ld). */
extern char __tcdm_data_end[];

/* Cluster cycle counter (low 32 bits, MMIO). */
static inline uint32_t hetsim_cluster_cycle(void) { return HETSIM_REG(HETSIM_CYCLE_ADDR); }

/* Hardware barrier: returns once every core (all N, the DMA core included) has called it. */
static inline void hetsim_barrier(void)
{
    hetsim_compiler_barrier();
    (void)HETSIM_REG(HETSIM_BARRIER_ADDR);
    hetsim_compiler_barrier();
}

/* Marked regions (ids 1..255), per core; the simulator reports cycles, instructions and stalls
 * per (id, core), summed over every begin/end pair. Different ids may nest. */
static inline void hetsim_region_begin(uint32_t id)
{
    hetsim_compiler_barrier();
    HETSIM_REG(HETSIM_REGION_BEGIN_ADDR) = id;
}
static inline void hetsim_region_end(uint32_t id)
{
    hetsim_compiler_barrier();
    HETSIM_REG(HETSIM_REGION_END_ADDR) = id;
}

/* DMA (by convention only the DMA core programs it: the registers are shared). Addresses are
 * any L2 or TCDM ranges. Returns the transfer's id (ids count from 1; transfers complete in
 * order). */
static inline uint32_t hetsim_dma_2d(void *dst, const void *src, uint32_t size,
                                     uint32_t dst_stride, uint32_t src_stride, uint32_t reps)
{
    hetsim_compiler_barrier();
    HETSIM_REG(HETSIM_DMA_SRC) = (uint32_t)(uintptr_t)src;
    HETSIM_REG(HETSIM_DMA_DST) = (uint32_t)(uintptr_t)dst;
    HETSIM_REG(HETSIM_DMA_SIZE) = size;
    HETSIM_REG(HETSIM_DMA_SRC_STRIDE) = src_stride;
    HETSIM_REG(HETSIM_DMA_DST_STRIDE) = dst_stride;
    HETSIM_REG(HETSIM_DMA_REPS) = reps;
    HETSIM_REG(HETSIM_DMA_START) = 0;
    return HETSIM_REG(HETSIM_DMA_LAST_ID);
}

static inline uint32_t hetsim_dma_1d(void *dst, const void *src, uint32_t size)
{
    hetsim_compiler_barrier();
    HETSIM_REG(HETSIM_DMA_SRC) = (uint32_t)(uintptr_t)src;
    HETSIM_REG(HETSIM_DMA_DST) = (uint32_t)(uintptr_t)dst;
    HETSIM_REG(HETSIM_DMA_SIZE) = size;
    HETSIM_REG(HETSIM_DMA_REPS) = 1;
    HETSIM_REG(HETSIM_DMA_START) = 0;
    return HETSIM_REG(HETSIM_DMA_LAST_ID);
}

/* Wait until transfer `id` (and every earlier one) has completed; id 0 returns at once. */
static inline void hetsim_dma_wait(uint32_t id)
{
    while (HETSIM_REG(HETSIM_DMA_DONE_ID) < id) {
    }
    hetsim_compiler_barrier();
}

/* ---------------------------------------------------------------------------------------------
 * RedMulE (docs/redmule.md): FP16 Z = X W (MATMUL) or Z = X W + Z (GEMM) on TCDM operands.
 * By convention one core drives the engine. A job the engine refuses at TRIGGER is never
 * queued, and ERROR keeps the code of the last refused or aborted job until SOFT_CLEAR: so a
 * driver checks ERROR after each TRIGGER (hetsim_redmule_start does) and never waits for a job
 * that was refused.
 * ------------------------------------------------------------------------------------------- */

/* Queues one job once a context is free: X (m x n), W (n x k), Z (m x k), all binary16,
 * row-major, 2-byte aligned, in TCDM; `arith` is HETSIM_REDMULE_MATMUL_FP16 or
 * HETSIM_REDMULE_GEMM_FP16. Returns the ERROR register after the TRIGGER: 0 if the job was
 * queued and no job failed since the last SOFT_CLEAR. */
static inline uint32_t hetsim_redmule_start(const void *x, const void *w, void *z, uint32_t m,
                                            uint32_t n, uint32_t k, uint32_t arith)
{
    hetsim_compiler_barrier();
    while ((int32_t)HETSIM_REG(HETSIM_REDMULE_ACQUIRE) < 0) {
    }
    HETSIM_REG(HETSIM_REDMULE_X_ADDR) = (uint32_t)(uintptr_t)x;
    HETSIM_REG(HETSIM_REDMULE_W_ADDR) = (uint32_t)(uintptr_t)w;
    HETSIM_REG(HETSIM_REDMULE_Z_ADDR) = (uint32_t)(uintptr_t)z;
    HETSIM_REG(HETSIM_REDMULE_MCFG0) = (k << 16) | (m & 0xffffu);
    HETSIM_REG(HETSIM_REDMULE_MCFG1) = n;
    HETSIM_REG(HETSIM_REDMULE_ARITH) = arith;
    HETSIM_REG(HETSIM_REDMULE_TRIGGER) = 0;
    return HETSIM_REG(HETSIM_REDMULE_ERROR);
}

/* Aborts every job and resets the registers, ids, FINISHED and ERROR. */
static inline void hetsim_redmule_clear(void)
{
    hetsim_compiler_barrier();
    HETSIM_REG(HETSIM_REDMULE_SOFT_CLEAR) = 0;
}

/* Jobs completed since the last SOFT_CLEAR (the FINISHED register). */
static inline uint32_t hetsim_redmule_finished(void)
{
    return HETSIM_REG(HETSIM_REDMULE_FINISHED);
}

/* Code of the last refused or aborted job (0 = none since SOFT_CLEAR). */
static inline uint32_t hetsim_redmule_error(void) { return HETSIM_REG(HETSIM_REDMULE_ERROR); }

/* Waits until no job runs or waits; returns the ERROR register. */
static inline uint32_t hetsim_redmule_wait(void)
{
    while (HETSIM_REG(HETSIM_REDMULE_STATUS)) {
    }
    hetsim_compiler_barrier();
    return hetsim_redmule_error();
}

#ifdef __cplusplus
}
#endif
#endif /* !__ASSEMBLER__ */

#endif /* HETSIM_H */
