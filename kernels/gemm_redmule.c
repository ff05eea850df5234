/* gemm_redmule.c - a 256 x 256 x 256 FP16 GEMM, Z = X W + Y, on the cluster's RedMulE engine
 * with the operands in L2, tiled into TCDM by the DMA core (hetsim cluster with
 * `redmule: Some(..)`, e.g. models/presets/cluster-snitch-study.ron).
 *
 *   X: M x N, W: N x K, Y and Z: M x K; M = N = K = 256; IEEE binary16, row-major, in L2
 *   (gemm_X, gemm_W, gemm_Y inputs, gemm_Z output; 128 KiB each: together they do not fit the
 *   128 KiB TCDM).
 *
 * Jobs. Z is cut into blocks of MT = 64 rows x KT = 32 columns, each one RedMulE GEMM job of
 * MT x N x KT with the whole reduction (N = 256, so every engine tile of a job makes
 * J = N / H = 64 passes):
 *
 *   job j (0..31): row block b = j / 8, column block c = j % 8
 *     Zbuf[j%2] <- Y[b*MT.., c*KT..]          (the bias: RedMulE accumulates in place, Y = Z)
 *     Zbuf[j%2] = Xbuf[b%2] * Wbuf[j%2] + Zbuf[j%2]     on RedMulE
 *     Z[b*MT.., c*KT..] <- Zbuf[j%2]
 *
 * with Xbuf[b%2] = X[b*MT .. b*MT+MT, :] (MT x N, loaded once per row block) and
 * Wbuf[j%2] = W[:, c*KT .. c*KT+KT] (N x KT). TCDM (.tcdm): 2 x 32 KiB X + 2 x 16 KiB W
 * + 2 x 4 KiB Z = 104 KiB.
 *
 * The DMA core (hart N-1) does all the data movement and drives the engine; the engine has
 * two job contexts, so one job runs while the next waits, and the buffers of job j+2 are
 * refilled as soon as job j is done:
 *
 *   region 1 begins
 *   stage(0); stage(1)            X block 0, W and Y of jobs 0 and 1 (2-D DMA transfers)
 *   wait stage(0); trigger job 0; wait stage(1); trigger job 1
 *   for j = 0..31:
 *       wait until FINISHED >= j + 1 (job j done; check ERROR)
 *       queue Zbuf[j%2] -> Z (2-D)
 *       if j + 2 < 32: stage(j + 2) into the buffers job j used (X only when j + 2 starts a
 *                      row block); wait for it; trigger job j + 2 (job j + 1 is running, so
 *                      the engine starts j + 2 in the cycle after j + 1's last beat)
 *   wait for the last write-back
 *   region 1 ends
 *
 * The DMA moves 384 beats of 64 bytes per job (W 256, Y 64, Z 64) plus 512 per row block
 * (X): under 900 cycles against about 16,700 cycles of engine time per job, so the engine
 * never waits for data (hetsim's report shows "0 cycles waiting for a TRIGGER").
 *
 * Inputs. When gemm_seed != 0 (the default), compute cores 0..N-2 first fill X, W and Y
 * (outside region 1) from a per-row xorshift32 stream:
 *   matrix t (0 = X, 1 = W, 2 = Y), row r: s = gemm_seed ^ (0x9E3779B9 * (256 t + r + 1)),
 *   s = 1 if that is 0; element c (in order 0..255): s ^= s << 13; s ^= s >> 17;
 *   s ^= s << 5; v = s >> 16; value = (v & 0x8000) | ((11 + ((v >> 10) & 3)) << 10)
 *   | (v & 0x3ff)      (sign, exponent 2^-4 .. 2^-1, random mantissa: |value| in [2^-4, 1))
 * When gemm_seed == 0, X, W and Y are left as bound by the host (`--input gemm_X=...`; they
 * are in .l2_noinit, so start-up does not clear them). tests/tests/cluster_gemm_redmule.rs
 * re-implements the generator and checks Z bit for bit against a host reference (each
 * element a chain of FP16 FMAs in increasing n starting from Y, docs/redmule.md).
 *
 * Output: gemm_Z; gemm_cycles = region 1's length on the cluster's CYCLE counter; a console
 * line with the cycles and MACs per cycle of region 1 (prologue loads and the last write-back
 * included). hetsim's report gives the engine's own figures.
 *
 * Exit codes (each non-zero one prints a line): 0 done, 2 fewer than 2 cores, 5 the TCDM
 * buffers reach the stacks of this cluster, 6 RedMulE refused or aborted a job (its ERROR
 * code is printed).
 */
#include <stdint.h>

#include "hetsim.h"

#define GEMM_M 256u
#define GEMM_N 256u
#define GEMM_K 256u
#define GEMM_MT 64u                     /* rows of a job (Z block) */
#define GEMM_KT 32u                     /* columns of a job (Z block) */
#define JOBS_PER_ROW (GEMM_K / GEMM_KT) /* 8 */
#define GEMM_JOBS ((GEMM_M / GEMM_MT) * JOBS_PER_ROW)

#define REGION_GEMM 1

#define ERR_NO_DMA_CORE 2
#define ERR_TCDM 5
#define ERR_REDMULE 6

/* RedMulE registers (byte offsets from HETSIM_REDMULE_BASE; docs/redmule.md). */
#define RM_TRIGGER 0x00
#define RM_ACQUIRE 0x04
#define RM_FINISHED 0x08
#define RM_X_ADDR 0x40
#define RM_W_ADDR 0x44
#define RM_Z_ADDR 0x48
#define RM_MCFG0 0x4c
#define RM_MCFG1 0x50
#define RM_ARITH 0x54
#define RM_ERROR 0x80
#define RM_ARITH_GEMM_FP16 ((1u << 10) | (1u << 7)) /* op 1 = GEMM, format 1 = FP16 */
#define RM(off) HETSIM_REG(HETSIM_REDMULE_BASE + (off))

/* Inputs and output in L2, not cleared at start-up (no file bytes). */
uint16_t gemm_X[GEMM_M * GEMM_N] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t gemm_W[GEMM_N * GEMM_K] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t gemm_Y[GEMM_M * GEMM_K] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t gemm_Z[GEMM_M * GEMM_K] __attribute__((section(".l2_noinit"), aligned(64)));

/* Bound by name (u32): 0 = keep the host's X, W, Y. */
uint32_t gemm_seed = 0x1234abcdu;
/* Written by the DMA core: region 1's cycles (CYCLE register). */
uint32_t gemm_cycles;

/* TCDM buffers (zeroed TCDM, no loader involvement). */
static uint16_t xbuf[2][GEMM_MT * GEMM_N] __attribute__((section(".tcdm"), aligned(64)));
static uint16_t wbuf[2][GEMM_N * GEMM_KT] __attribute__((section(".tcdm"), aligned(64)));
static uint16_t zbuf[2][GEMM_MT * GEMM_KT] __attribute__((section(".tcdm"), aligned(64)));

typedef uint32_t __attribute__((may_alias)) u32_alias;

/* ------------------------------------------------------------------------------------------ */
/* Input generation (compute cores, before the measured region)                                */

static inline uint32_t xorshift32(uint32_t s)
{
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
}

static inline uint32_t to_fp16(uint32_t s)
{
    uint32_t v = s >> 16;
    return (v & 0x8000u) | ((11u + ((v >> 10) & 3u)) << 10) | (v & 0x3ffu);
}

/* Row `row` (0..767 over X, W, Y) of the inputs; rows are 256 elements in every matrix. */
static void generate_row(uint32_t seed, uint32_t row)
{
    uint16_t *base = row < 256u ? gemm_X : row < 512u ? gemm_W : gemm_Y;
    u32_alias *dst = (u32_alias *)(base + (row & 255u) * 256u);
    uint32_t s = seed ^ (0x9e3779b9u * (row + 1u));
    if (s == 0)
        s = 1;
    for (uint32_t i = 0; i < 128u; i++) {
        s = xorshift32(s);
        uint32_t lo = to_fp16(s);
        s = xorshift32(s);
        uint32_t hi = to_fp16(s);
        dst[i] = lo | (hi << 16);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* DMA core                                                                                     */

static void fail(uint32_t code, const char *what, uint32_t value)
{
    hetsim_puts("gemm_redmule: ");
    hetsim_puts(what);
    hetsim_putu(value);
    hetsim_putchar('\n');
    hetsim_exit((int)code);
}

/* Queues the loads of job j (X block when j starts a row block, W column block, Y block into
 * the Z buffer); returns the id of the last transfer. */
static uint32_t stage(uint32_t j)
{
    uint32_t b = j / JOBS_PER_ROW, c = j % JOBS_PER_ROW, s = j & 1u;
    if (c == 0)
        hetsim_dma_1d(xbuf[b & 1u], gemm_X + b * GEMM_MT * GEMM_N, 2u * GEMM_MT * GEMM_N);
    hetsim_dma_2d(wbuf[s], gemm_W + c * GEMM_KT, 2u * GEMM_KT, 2u * GEMM_KT, 2u * GEMM_K, GEMM_N);
    return hetsim_dma_2d(zbuf[s], gemm_Y + b * GEMM_MT * GEMM_K + c * GEMM_KT, 2u * GEMM_KT,
                         2u * GEMM_KT, 2u * GEMM_K, GEMM_MT);
}

/* Queues job j on RedMulE (waits for a free context). */
static void trigger(uint32_t j)
{
    uint32_t b = j / JOBS_PER_ROW, s = j & 1u;
    while ((int32_t)RM(RM_ACQUIRE) < 0) {
    }
    RM(RM_X_ADDR) = (uint32_t)(uintptr_t)xbuf[b & 1u];
    RM(RM_W_ADDR) = (uint32_t)(uintptr_t)wbuf[s];
    RM(RM_Z_ADDR) = (uint32_t)(uintptr_t)zbuf[s];
    RM(RM_MCFG0) = (GEMM_KT << 16) | GEMM_MT;
    RM(RM_MCFG1) = GEMM_N;
    RM(RM_ARITH) = RM_ARITH_GEMM_FP16;
    RM(RM_TRIGGER) = 0;
    uint32_t err = RM(RM_ERROR);
    if (err)
        fail(ERR_REDMULE, "RedMulE refused a job, ERROR = ", err);
}

static void dma_core(void)
{
    hetsim_region_begin(REGION_GEMM);
    uint32_t t0 = hetsim_cluster_cycle();
    uint32_t id0 = stage(0);
    uint32_t id1 = stage(1);
    hetsim_dma_wait(id0);
    trigger(0);
    hetsim_dma_wait(id1);
    trigger(1);
    uint32_t out = 0;
    for (uint32_t j = 0; j < GEMM_JOBS; j++) {
        while (RM(RM_FINISHED) < j + 1u) {
        }
        uint32_t err = RM(RM_ERROR);
        if (err)
            fail(ERR_REDMULE, "RedMulE aborted a job, ERROR = ", err);
        uint32_t b = j / JOBS_PER_ROW, c = j % JOBS_PER_ROW;
        out = hetsim_dma_2d(gemm_Z + b * GEMM_MT * GEMM_K + c * GEMM_KT, zbuf[j & 1u],
                            2u * GEMM_KT, 2u * GEMM_K, 2u * GEMM_KT, GEMM_MT);
        if (j + 2u < GEMM_JOBS) {
            hetsim_dma_wait(stage(j + 2u));
            trigger(j + 2u);
        }
    }
    hetsim_dma_wait(out);
    uint32_t cycles = hetsim_cluster_cycle() - t0;
    hetsim_region_end(REGION_GEMM);
    gemm_cycles = cycles;
    /* MACs per cycle over region 1, two decimals. */
    uint32_t centi = GEMM_M * GEMM_N * GEMM_K * 100u / cycles; /* 2^24 * 100 < 2^32 */
    hetsim_puts("gemm_redmule: 256x256x256 fp16 GEMM in ");
    hetsim_putu(cycles);
    hetsim_puts(" cycles (DMA-core region 1), ");
    hetsim_putu(centi / 100u);
    hetsim_putchar('.');
    hetsim_putchar((char)('0' + centi / 10u % 10u));
    hetsim_putchar((char)('0' + centi % 10u));
    hetsim_puts(" MAC/cycle\n");
}

int main(uint32_t hartid, uint32_t ncores)
{
    if (ncores < 2) {
        if (hartid == 0)
            hetsim_puts("gemm_redmule: needs a DMA core and at least one compute core\n");
        return ERR_NO_DMA_CORE;
    }
    if ((uintptr_t)__tcdm_data_end > hetsim_tcdm_free_end()) {
        if (hartid == 0)
            hetsim_puts("gemm_redmule: the 104 KiB of TCDM buffers reach the stacks\n");
        return ERR_TCDM;
    }
    uint32_t dma = ncores - 1u;
    uint32_t seed = *(volatile uint32_t *)&gemm_seed;
    if (seed != 0 && hartid != dma) {
        for (uint32_t row = hartid; row < 3u * 256u; row += dma)
            generate_row(seed, row);
    }
    hetsim_barrier();
    if (hartid == dma)
        dma_core();
    hetsim_barrier();
    return 0;
}
