/* gemm_f16_ssr - dense FP16 matrix multiply with SSR + FREP on the 8 compute cores.
 *
 *   C (M x N, fp32) += A (M x K, fp16) * B (K x N, fp16)
 *
 * B is stored transposed (Bt, N x K) so that both operands are contiguous along K. Each
 * 32-bit word holds two fp16 values along K, and one vfdotpex.s.h computes
 * acc += a[2k] b[2k] + a[2k+1] b[2k+1] into an fp32 accumulator (2 MACs). The rows of A and Bt
 * are padded by one word (pitch K + 2 halves) so that consecutive rows start in consecutive
 * TCDM banks.
 *
 * Compute core c takes the rows i = c, c + 8, ...; for each row it walks N / U column blocks
 * of U = 8 columns. One block is one FREP of (K/2) * U instructions:
 *     vfdotpex.s.h f3+u, ft0, ft1        (rd staggered over 8 accumulators, u = 0..7)
 * with ft0 streaming A[i][k2] (1-D over K/2 words, each delivered U times: repeat = U - 1) and
 * ft1 streaming Bt[j+u][k2] (2-D: inner loop over the U columns, outer loop over k2). The FPU
 * result latency (4) is covered by the 8 accumulators. Two accumulator sets (f3..f10 and
 * f11..f18) alternate between blocks: while the FPU runs block b, the integer core launches the
 * streams of block b + 1 (one job may wait behind the active one), loads its accumulators from C,
 * hands its FREP to the sequencer and only then stores block b - 1's results, so the FPU never
 * waits for the integer core.
 *
 * Data: the compute cores fill A and Bt with small integers (exact in fp16, and every product
 * sum is exact in fp32) and zero C before the measured region; the host test recomputes C in
 * integers and compares every element. Region 1 is the GEMM on each compute core; its FP
 * operations per cycle is the FPU utilisation `hetsim kernel` prints.
 */
#include "hetsim.h"
#include "snitch.h"

#define M 64
#define N 64
#define K 128
#define U 8
#define PITCH (K + 2) /* halves per row of A and Bt */
#define COMPUTE_CORES 8

uint16_t gemm_a[M * PITCH] __attribute__((section(".tcdm"), aligned(64)));
uint16_t gemm_bt[N * PITCH] __attribute__((section(".tcdm"), aligned(64)));
float gemm_c[M * N] __attribute__((section(".tcdm"), aligned(64)));
/* M, N, K for the host. */
const uint32_t gemm_shape[3] = {M, N, K};

/* fp16 bits of -2, -1, 0, 1, 2. */
static const uint16_t small_f16[5] = {0xc000, 0xbc00, 0x0000, 0x3c00, 0x4000};

/* The input pattern (the host test uses the same formulas). */
static inline uint32_t a_value(uint32_t i, uint32_t k) { return (i * 3 + k * 5) % 5; }
static inline uint32_t b_value(uint32_t k, uint32_t j) { return (k * 7 + j * 11) % 5; }

static void fill(uint32_t c)
{
    for (uint32_t i = c; i < M; i += COMPUTE_CORES) {
        for (uint32_t k = 0; k < K; k++) {
            gemm_a[i * PITCH + k] = small_f16[a_value(i, k)];
        }
        for (uint32_t j = 0; j < N; j++) {
            gemm_c[i * N + j] = 0.0f;
        }
    }
    for (uint32_t j = c; j < N; j += COMPUTE_CORES) {
        for (uint32_t k = 0; k < K; k++) {
            gemm_bt[j * PITCH + k] = small_f16[b_value(k, j)];
        }
    }
}

#define LOAD8_(r0, r1, r2, r3, r4, r5, r6, r7)                                                 \
    "flw " r0 ", 0(%0)\n flw " r1 ", 4(%0)\n flw " r2 ", 8(%0)\n flw " r3 ", 12(%0)\n"         \
    "flw " r4 ", 16(%0)\n flw " r5 ", 20(%0)\n flw " r6 ", 24(%0)\n flw " r7 ", 28(%0)\n"
#define STORE8_(r0, r1, r2, r3, r4, r5, r6, r7)                                                \
    "fsw " r0 ", 0(%0)\n fsw " r1 ", 4(%0)\n fsw " r2 ", 8(%0)\n fsw " r3 ", 12(%0)\n"         \
    "fsw " r4 ", 16(%0)\n fsw " r5 ", 20(%0)\n fsw " r6 ", 24(%0)\n fsw " r7 ", 28(%0)\n"
/* (one more expansion step so that SET0 / SET1 split into eight arguments) */
#define LOAD8(...) LOAD8_(__VA_ARGS__)
#define STORE8(...) STORE8_(__VA_ARGS__)
#define SET0 "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10"
#define SET1 "f11", "f12", "f13", "f14", "f15", "f16", "f17", "f18"
#define CLOBBERS                                                                               \
    "memory", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "f13", "f14",    \
        "f15", "f16", "f17", "f18"

/* Launch the streams of block (row i, first column j) and start its FREP on set `set`. */
static inline void block_start(uint32_t i, uint32_t j, uint32_t set)
{
    float *c = &gemm_c[i * N + j];
    hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 0, (uint32_t)(uintptr_t)&gemm_a[i * PITCH]);
    hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, (uint32_t)(uintptr_t)&gemm_bt[j * PITCH]);
    uint32_t reps = (K / 2) * U - 1;
    if (set == 0) {
        __asm__ volatile(LOAD8(SET0) FREP_O("%1", 1, 7, 1) VFDOTPEX_S_H("f3", "ft0", "ft1")
                         ::"r"(c), "r"(reps) : CLOBBERS);
    } else {
        __asm__ volatile(LOAD8(SET1) FREP_O("%1", 1, 7, 1) VFDOTPEX_S_H("f11", "ft0", "ft1")
                         ::"r"(c), "r"(reps) : CLOBBERS);
    }
}

/* Store the accumulators of a block (waits for its last results). */
static inline void block_finish(uint32_t i, uint32_t j, uint32_t set)
{
    float *c = &gemm_c[i * N + j];
    if (set == 0) {
        __asm__ volatile(STORE8(SET0)::"r"(c) : CLOBBERS);
    } else {
        __asm__ volatile(STORE8(SET1)::"r"(c) : CLOBBERS);
    }
}

static void gemm(uint32_t c)
{
    /* Stream shapes, the same for every block. */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 0, K / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 0, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 0, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, PITCH * 2);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, K / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, 4 - PITCH * 2 * (U - 1));
    hetsim_ssr_enable();
    uint32_t b = 0, pi = 0, pj = 0;
    for (uint32_t i = c; i < M; i += COMPUTE_CORES) {
        for (uint32_t j = 0; j < N; j += U, b++) {
            block_start(i, j, b & 1);
            if (b > 0) {
                block_finish(pi, pj, (b - 1) & 1);
            }
            pi = i;
            pj = j;
        }
    }
    block_finish(pi, pj, (b - 1) & 1);
    hetsim_ssr_disable();
}

int main(uint32_t hart, uint32_t cores)
{
    if (cores < COMPUTE_CORES + 1) {
        return 2; /* needs 8 compute cores and the DMA core */
    }
    if (hart < COMPUTE_CORES) {
        fill(hart);
    }
    hetsim_barrier();
    if (hart < COMPUTE_CORES) {
        hetsim_region_begin(1);
        gemm(hart);
        hetsim_region_end(1);
    }
    hetsim_barrier();
    return 0;
}
