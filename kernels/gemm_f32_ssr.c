/* gemm_f32_ssr - dense binary32 matrix multiply with SSR + FREP on the 8 compute cores, the
 * operands in L2 and double-buffered into TCDM by the DMA core (the cluster energy model's
 * Snitch validation, docs/energy.md; needs xssr and xfrep, e.g. the study cluster).
 *
 *   C (M x N) = A (M x K) * B (K x N),   binary32, M = 64, N = 64, K = 128
 *
 * In L2 (.l2_noinit): gemm_a (M x K, row-major), gemm_bt (B transposed, N x K, so that both
 * operands are contiguous along K) and the output gemm_c (M x N, row-major).
 *
 * Compute. C is cut into M / 8 panels of 8 rows; compute core c computes row c of each panel.
 * A row is N / U blocks of U = 8 columns, each one FREP of K * U instructions
 *     fmadd.s f3+u, ft0, ft1, f3+u       (rd and rs3 staggered over 8 accumulators, u = 0..7)
 * with ft0 streaming A[i][k] (1-D over K, each element delivered U times) and ft1 streaming
 * Bt[j+u][k] (2-D: inner loop over the U columns, outer loop over k). Each accumulator is the
 * chain acc = fma(A[i][k], B[k][j], acc) for k = 0, 1, ..., K-1 from acc = +0 (the host test
 * recomputes C in this order and compares bits). The FMA latency (4) is covered by the 8
 * accumulators; two accumulator sets (f3..f10, f11..f18) alternate between blocks so that the
 * integer core launches block b + 1 before it stores block b - 1 (as in gemm_f16_ssr.c).
 * The rows of the TCDM copies are padded by one word (pitch K + 1 words) so that consecutive
 * rows start in consecutive banks.
 *
 * Data movement (DMA core, hart 8). Bt stays in TCDM for the whole GEMM; A panels and C panels
 * are double-buffered: while the compute cores work on panel p, the DMA loads panel p + 1 of A
 * into the other A buffer and writes panel p - 1 of C back to L2. One hardware barrier per
 * panel hands the buffers over:
 *
 *   DMA core:      load Bt, A panel 0; wait | B | load A p+1, store C p-1; wait | B | ... | B |
 *                  store C of the last panel; wait
 *   compute cores:                          | B | panel 0                       | B | ... | B |
 *
 * Inputs. Compute cores fill gemm_a and gemm_bt before the measured region:
 *   A[i][k] = value((i K + k + 1) * 0x9E3779B1), Bt[j][k] = value((j K + k + 1) * 0x85EBCA77)
 *   value(h): h ^= h >> 15; h *= 0x2C1B3C6D; h ^= h >> 12; bits = (h & 0x80000000) |
 *             0x3F000000 | (h & 0x7FFFFF)          (random sign and mantissa, |x| in [0.5, 1))
 *
 * Region 1 (every core, from the first DMA load to the last write-back): the measured GEMM.
 * Exit codes: 0 done, 2 not exactly 8 compute cores and a DMA core, 5 the TCDM buffers reach
 * the stacks.
 */
#include "hetsim.h"
#include "snitch.h"

#define M 64
#define N 64
#define K 128
#define U 8
#define ROWS 8            /* rows per panel = compute cores */
#define PANELS (M / ROWS) /* 8 */
#define PITCH (K + 1)     /* words per row of the TCDM copies of A and Bt */
#define COMPUTE_CORES 8

float gemm_a[M * K] __attribute__((section(".l2_noinit"), aligned(64)));
float gemm_bt[N * K] __attribute__((section(".l2_noinit"), aligned(64)));
float gemm_c[M * N] __attribute__((section(".l2_noinit"), aligned(64)));
/* M, N, K for the host. */
const uint32_t gemm_shape[3] = {M, N, K};

static float bt_buf[N * PITCH] __attribute__((section(".tcdm"), aligned(64)));
static float a_buf[2][ROWS * PITCH] __attribute__((section(".tcdm"), aligned(64)));
static float c_buf[2][ROWS * N] __attribute__((section(".tcdm"), aligned(64)));
/* The accumulators' initial value (+0), loaded with flw so that every FP operation of the
 * region is an fmadd.s. */
static float zeros[U] __attribute__((section(".tcdm"), aligned(32)));

typedef uint32_t __attribute__((may_alias)) u32_alias;

static inline uint32_t value(uint32_t h)
{
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return (h & 0x80000000u) | 0x3f000000u | (h & 0x7fffffu);
}

static void fill(uint32_t c)
{
    u32_alias *a = (u32_alias *)gemm_a;
    u32_alias *bt = (u32_alias *)gemm_bt;
    for (uint32_t r = c; r < M; r += COMPUTE_CORES) {
        for (uint32_t k = 0; k < K; k++) {
            a[r * K + k] = value((r * K + k + 1u) * 0x9e3779b1u);
        }
    }
    for (uint32_t r = c; r < N; r += COMPUTE_CORES) {
        for (uint32_t k = 0; k < K; k++) {
            bt[r * K + k] = value((r * K + k + 1u) * 0x85ebca77u);
        }
    }
}

#define LOAD8_(r0, r1, r2, r3, r4, r5, r6, r7)                                                 \
    "flw " r0 ", 0(%0)\n flw " r1 ", 4(%0)\n flw " r2 ", 8(%0)\n flw " r3 ", 12(%0)\n"         \
    "flw " r4 ", 16(%0)\n flw " r5 ", 20(%0)\n flw " r6 ", 24(%0)\n flw " r7 ", 28(%0)\n"
#define STORE8_(r0, r1, r2, r3, r4, r5, r6, r7)                                                \
    "fsw " r0 ", 0(%0)\n fsw " r1 ", 4(%0)\n fsw " r2 ", 8(%0)\n fsw " r3 ", 12(%0)\n"         \
    "fsw " r4 ", 16(%0)\n fsw " r5 ", 20(%0)\n fsw " r6 ", 24(%0)\n fsw " r7 ", 28(%0)\n"
#define LOAD8(...) LOAD8_(__VA_ARGS__)
#define STORE8(...) STORE8_(__VA_ARGS__)
#define SET0 "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10"
#define SET1 "f11", "f12", "f13", "f14", "f15", "f16", "f17", "f18"
#define CLOBBERS                                                                               \
    "memory", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "f13", "f14",    \
        "f15", "f16", "f17", "f18"

/* Launch the streams of the block (A row `a`, Bt rows from `bt`) and start its FREP on `set`:
 * K * U fmadd.s, rd and rs3 staggered over the set's 8 registers (stagger mask 0b1001). */
static inline void block_start(const float *a, const float *bt, uint32_t set)
{
    hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 0, (uint32_t)(uintptr_t)a);
    hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, (uint32_t)(uintptr_t)bt);
    uint32_t reps = K * U - 1;
    if (set == 0) {
        __asm__ volatile(LOAD8(SET0) FREP_O("%1", 1, 7, 9) "fmadd.s f3, ft0, ft1, f3\n"
                         ::"r"(zeros), "r"(reps) : CLOBBERS);
    } else {
        __asm__ volatile(LOAD8(SET1) FREP_O("%1", 1, 7, 9) "fmadd.s f11, ft0, ft1, f11\n"
                         ::"r"(zeros), "r"(reps) : CLOBBERS);
    }
}

/* Store a block's accumulators to `c` (waits for its last results). */
static inline void block_finish(float *c, uint32_t set)
{
    if (set == 0) {
        __asm__ volatile(STORE8(SET0)::"r"(c) : CLOBBERS);
    } else {
        __asm__ volatile(STORE8(SET1)::"r"(c) : CLOBBERS);
    }
}

static void compute_core(uint32_t c)
{
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 0, K - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 0, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 0, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, PITCH * 4);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, K - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, 4 - PITCH * 4 * (U - 1));
    hetsim_ssr_enable();
    for (uint32_t p = 0; p < PANELS; p++) {
        hetsim_barrier(); /* A panel p is in a_buf[p & 1], c_buf[p & 1] is free */
        const float *a = &a_buf[p & 1u][c * PITCH];
        float *out = &c_buf[p & 1u][c * N];
        for (uint32_t b = 0; b < N / U; b++) {
            block_start(a, &bt_buf[b * U * PITCH], b & 1u);
            if (b > 0) {
                block_finish(out + (b - 1u) * U, (b - 1u) & 1u);
            }
        }
        block_finish(out + (N / U - 1u) * U, (N / U - 1u) & 1u);
    }
    hetsim_ssr_disable();
    hetsim_barrier(); /* the last panel is in c_buf */
}

static uint32_t load_a_panel(uint32_t p)
{
    return hetsim_dma_2d(a_buf[p & 1u], &gemm_a[p * ROWS * K], 4u * K, 4u * PITCH, 4u * K, ROWS);
}

static uint32_t store_c_panel(uint32_t p)
{
    return hetsim_dma_1d(&gemm_c[p * ROWS * N], c_buf[p & 1u], 4u * ROWS * N);
}

static void dma_core(void)
{
    hetsim_dma_2d(bt_buf, gemm_bt, 4u * K, 4u * PITCH, 4u * K, N);
    hetsim_dma_wait(load_a_panel(0));
    for (uint32_t p = 0; p < PANELS; p++) {
        hetsim_barrier(); /* the compute cores start panel p (and are done with p - 1) */
        uint32_t id = 0;
        if (p + 1u < PANELS) {
            id = load_a_panel(p + 1u);
        }
        if (p > 0) {
            id = store_c_panel(p - 1u);
        }
        hetsim_dma_wait(id);
    }
    hetsim_barrier();
    hetsim_dma_wait(store_c_panel(PANELS - 1u));
}

int main(uint32_t hart, uint32_t cores)
{
    if (cores != COMPUTE_CORES + 1) {
        return 2; /* needs 8 compute cores and the DMA core (and no other core at the barriers) */
    }
    if ((uintptr_t)__tcdm_data_end > hetsim_tcdm_free_end()) {
        return 5;
    }
    if (hart < COMPUTE_CORES) {
        fill(hart);
    }
    hetsim_barrier();
    hetsim_region_begin(1);
    if (hart < COMPUTE_CORES) {
        compute_core(hart);
    } else if (hart == COMPUTE_CORES) {
        dma_core();
    }
    hetsim_region_end(1);
    hetsim_barrier();
    return 0;
}
