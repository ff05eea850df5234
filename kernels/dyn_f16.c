/* dyn_f16 - the dynamic (non-linear-layer) operations of a transformer in binary16 on the
 * study cluster: residual add, ReLU, GELU, MobileBERT's NoNorm, LayerNorm and softmax,
 * LLaMA's elementwise product (SwiGLU gate), SiLU, RMSNorm and rotary embedding (RoPE), and a
 * sentence encoder's mean pooling over its tokens.
 *
 * One ELF, one operation per run, chosen by the op descriptor `dyn_op` = {op, rows, cols,
 * arg} (4 x u32, bound by the host; arg = epsilon's f32 bits for the norms, head_dim for
 * RoPE). Operands (row-major binary16 in L2, bound by name):
 *   dyn_X  rows x cols   the input (every op)
 *   dyn_Z  rows x cols   the second operand (DYN_ADD, DYN_MUL), RoPE's cos/sin table: per row
 *                        (position) and head, cos_0 .. cos_{hd/2-1} then sin_0 .. sin_{hd/2-1}
 *   dyn_G  cols          gain (DYN_NONORM, DYN_LAYERNORM, DYN_RMSNORM)
 *   dyn_B  cols          bias (DYN_NONORM, DYN_LAYERNORM)
 *   dyn_Y  rows x cols   the output (MEANPOOL: 1 x cols)
 * Softmax normalises each row (a head's segment of an attention-score row is one row here:
 * the host passes rows = seq * heads, cols = seq, the same memory).
 *
 * Needs zfh, xfvec, xfrep and xssr (models/presets/cluster-snitch-study.ron). Round to nearest
 * even throughout (fcsr = 0). Numerics, exactly (f32 = binary32 arithmetic, fp16(v) = v
 * rounded to binary16, x as f32 is exact):
 *   ADD      y = fp16(x + z)                       vfadd.h, 2 lanes per word (SSR + FREP)
 *   RELU     y = vfmax.h(x, +0)                    (max(-0, +0) = +0, max(NaN, 0) = 0)
 *   NONORM   y = fp16(fp16(x * g) + b)             vfmul.h then vfadd.h (SSR + FREP)
 *   GELU     tanh form as a sigmoid: 0.5 (1 + tanh u) = 1 / (1 + e^(-2u)),
 *            u = sqrt(2/pi) (x + 0.044715 x^3); in f32:
 *              k = fma(x * x, C, 1); t = (x * k) * K2 (K2 = -2 sqrt(2/pi) log2 e);
 *              t = min(max(t, -127), 127); y = fp16(x / (1 + exp2(t)))
 *   LAYERNORM per row, f32, four partial sums s[j % 4] in increasing j:
 *              mean = ((s0 + s1) + (s2 + s3)) * (1 / cols); d_j = x_j - mean;
 *              v[j % 4] = fma(d_j, d_j, v[j % 4]); var = ((v0 + v1) + (v2 + v3)) * (1 / cols);
 *              r = 1 / sqrt(var + eps); y_j = fp16(fma(d_j * r, g_j, b_j))
 *   MUL      y = fp16(x * z)                       vfmul.h, 2 lanes per word (SSR + FREP)
 *   SILU     y = fp16(x / (1 + exp2(t))), t = min(max(x * (-log2 e), -127), 127) in f32
 *   RMSNORM  per row, f32, four partial sums q[j % 4] = fma(x_j, x_j, q[j % 4]) in increasing j:
 *              ms = ((q0 + q1) + (q2 + q3)) * (1 / cols); r = 1 / sqrt(ms + eps);
 *              y_j = fp16((x_j * r) * g_j)
 *   ROPE     per row and head, i < hd/2, a = x[i], b = x[i + hd/2], c = cos_i, s = sin_i
 *            (the table's values): y[i] = fp16(a c - b s), y[i + hd/2] = fp16(a s + b c)
 *            (f32, products rounded, then the sum: rotate-half, as the host model)
 *   SOFTMAX  per row: m = max_j x_j (fmax.s from -inf; any grouping gives the same m);
 *              e_j = exp2(max((x_j - m) * log2 e, -127)); E_j = fp16(e_j);
 *              sum = sum_j e_j (f32, increasing j); r = 1 / sum; y_j = fp16(E_j * r)
 *   MEANPOOL per column j, f32: s_j = (((0 + x_0j) + x_1j) + ...) + x_(rows-1)j (rows in
 *              increasing order); y_j = fp16(s_j / rows) (fdiv.s; rows is exact in f32).
 *              The host passes the valid tokens only (rows = the sentence's length).
 *   exp2(t), t in [-127, 127]: n = floor(t) (fcvt.w.s, rdn), f = t - n in [0, 1),
 *     p = fma(f, fma(f, fma(f, C3, C2), C1), 1) (cubic fit of 2^f on [0, 1), relative error
 *     < 8.6e-5, below half a binary16 ulp), exp2 = p * 2^n (2^n built from its bits; n = -127
 *     gives +0).
 * sim/src/simulate/dyn_kernel.rs reproduces each bit for bit.
 *
 * Parallelism: the DMA core (the last hart) double-buffers row tiles of R rows from L2 into
 * TCDM (R: about 4096 elements per tile but at least one row per compute core, a multiple of
 * the compute cores when possible, fewer when TCDM is short); Y overwrites X in the tile and goes back to L2 while the next tile is
 * computed. The compute cores split a tile's words (ADD, RELU: contiguous shares), groups of
 * 4 elements (GELU: round-robin), groups of 4 columns (MEANPOOL: round-robin, the column sums
 * kept in TCDM between tiles; the last tile's step divides and writes the output row, which
 * the DMA core stores once) or rows (the row-wise ops and NONORM, whose gain depends on
 * the column; LAYERNORM and SOFTMAX rows padded in TCDM by a word against bank conflicts).
 *
 * Limits: 1 <= rows, 1 <= cols <= 4096, rows * cols <= DYN_MAX_ELEMS; cols even for ADD, MUL
 * and RELU, a multiple of 8 for NONORM; for ROPE head_dim even and cols a multiple of it.
 *
 * Built with -DDYN_F32 (build/dyn_f32.elf, marker dyn_f32_abi): the same operations in
 * binary32 for a plain RV32IMF cluster (no Zfh, SSR, FREP or packed SIMD): every fp16(.) above is
 * the identity, add/mul/ReLU/NoNorm are scalar fadd.s/fmul.s/fmax.s loops (NoNorm: (x g) + b,
 * two roundings; no column constraints but RoPE's), 2^f is a quintic (five fmadd.s, relative
 * error < 1.5e-7), rows * cols <= 229376 (the same L2 bytes), padded rows cols + 1 words.
 *
 * Self-check: when dyn_check != 0 the compute cores compare Y bit for bit with dyn_expected.
 * Regions: 1 = whole kernel on every core, 2 = compute of the tiles (compute cores, summed).
 * Exit codes: 0 pass, 1 self-check mismatch, 2 no compute core, 3 a zero dimension, 4 beyond
 * the L2 buffers, 5 does not fit in TCDM, 6 unsupported op or shape (console line each).
 */
#include <stdint.h>

#include "hetsim.h"
#include "snitch.h"
#include "lora_common.h"

#define DYN_ADD 1
#define DYN_RELU 2
#define DYN_GELU 3
#define DYN_NONORM 4
#define DYN_LAYERNORM 5
#define DYN_SOFTMAX 6
#define DYN_MUL 7
#define DYN_SILU 8
#define DYN_RMSNORM 9
#define DYN_ROPE 10
#define DYN_MEANPOOL 11
#define DYN_LAST DYN_MEANPOOL

#ifdef DYN_F32
typedef uint32_t ebits_t; /* an element's bits in L2 and TCDM */
#define DYN_MAX_ELEMS (224 * 1024)
#define DYN_NAME "dyn_f32"
#define DYN_LIMITS "rows * cols <= 229376, cols <= 4096"
#else
typedef uint16_t ebits_t;
#define DYN_MAX_ELEMS (448 * 1024)
#define DYN_NAME "dyn_f16"
#define DYN_LIMITS "rows * cols <= 458752, cols <= 4096"
#endif
#define ES ((uint32_t)sizeof(ebits_t)) /* bytes per element */
#define DYN_MAX_COLS 4096
#define TILE_ELEMS 4096
#define REGION_DYN 1
#define REGION_TILES 2

struct dyn_desc {
    uint32_t op, rows, cols, eps_bits;
};

#define BOUND __attribute__((section(".data")))
#define L2BUF __attribute__((section(".l2_noinit"), aligned(64)))
struct dyn_desc dyn_op BOUND = {DYN_ADD, 64, 256, 0x3727c5ac /* 1e-5 */};
uint32_t dyn_check BOUND = 0;
#ifdef DYN_F32
/* ABI marker (read by the host): 2 = the binary32 build, ops 1..11. */
const uint32_t dyn_f32_abi = 2;
#else
/* ABI marker (read by the host): 3 = ops 7..11 exist. */
const uint32_t dyn_f16_abi = 3;
#endif
ebits_t dyn_X[DYN_MAX_ELEMS] L2BUF;
ebits_t dyn_Z[DYN_MAX_ELEMS] L2BUF;
ebits_t dyn_Y[DYN_MAX_ELEMS] L2BUF;
ebits_t dyn_expected[DYN_MAX_ELEMS] L2BUF;
ebits_t dyn_G[DYN_MAX_COLS] L2BUF;
ebits_t dyn_B[DYN_MAX_COLS] L2BUF;

/* Per-core self-check result; the plan's rows per tile and TCDM bytes (hart 0 writes them). */
uint32_t dyn_bad[HETSIM_MAX_CORES];
uint32_t dyn_used_rows;
uint32_t dyn_used_tcdm;

static const struct lora_kernel K = {DYN_NAME, "dyn_op", "1 compute + 1 DMA", DYN_LIMITS,
                                     0, 0, 0, 0};

struct plan {
    uint32_t op, rows, cols, R, ntiles, tcdm_bytes;
    uint32_t pitch; /* row pitch of the tiles in TCDM, in elements */
    uint32_t hd;    /* ROPE: head_dim */
    float eps;
    ebits_t *gb;        /* NONORM (binary16): gain and bias interleaved by 4 words; else G, B;
                         * MEANPOOL: the f32 column sums, then the output row */
    ebits_t *x[2];      /* the tiles (Y overwrites X) */
    ebits_t *z[2];      /* ADD's second tiles */
};

static int has_z(uint32_t op) { return op == DYN_ADD || op == DYN_MUL || op == DYN_ROPE; }
static int has_gb(uint32_t op)
{
    return op == DYN_NONORM || op == DYN_LAYERNORM || op == DYN_RMSNORM;
}
/* The scalar row-wise ops (RoPE too, X and its table alike) pad their rows in TCDM to cols rounded up to even plus one word, so that the compute cores, each on its own row in lock
 * step, start in different TCDM banks (a row of 384 or 320 halves is a multiple of 32 words:
 * unpadded, every core would hit the same bank). */
static int padded(uint32_t op)
{
    return op == DYN_LAYERNORM || op == DYN_SOFTMAX || op == DYN_RMSNORM || op == DYN_ROPE;
}

/* Same on every core (a pure function of the descriptor and the cluster). */
static int make_plan(struct plan *p, uint32_t ncores)
{
    const volatile struct dyn_desc *d = &dyn_op;
    p->op = d->op;
    p->rows = d->rows;
    p->cols = d->cols;
    union {
        uint32_t u;
        float f;
    } eps = {d->eps_bits};
    p->eps = eps.f;
    if (ncores < 2)
        return ERR_NO_COMPUTE_CORE;
    if (p->rows == 0 || p->cols == 0)
        return ERR_ZERO_DIM;
    if (p->cols > DYN_MAX_COLS || p->rows > DYN_MAX_ELEMS / p->cols)
        return ERR_TOO_BIG;
    if (p->op < DYN_ADD || p->op > DYN_LAST)
        return ERR_KERNEL;
#ifndef DYN_F32
    if ((p->op == DYN_ADD || p->op == DYN_RELU || p->op == DYN_MUL) && p->cols % 2)
        return ERR_KERNEL;
#endif
    if (p->op == DYN_ROPE && (d->eps_bits == 0 || d->eps_bits % 2 || p->cols % d->eps_bits))
        return ERR_KERNEL;
    p->hd = d->eps_bits;
#ifdef DYN_F32
    p->pitch = padded(p->op) ? p->cols + 1 : p->cols;
#else
    if (p->op == DYN_NONORM && p->cols % 8)
        return ERR_KERNEL;
    p->pitch = padded(p->op) ? p->cols + p->cols % 2 + 2 : p->cols;
#endif
    const uint32_t P = ncores - 1, row_bytes = ES * p->pitch;
    const uint32_t gb = has_gb(p->op)             ? round64(2 * row_bytes)
                        : p->op == DYN_MEANPOOL ? round64(4 * p->cols) + round64(ES * p->cols)
                                                : 0;
    const uint32_t per_row_sets = has_z(p->op) ? 2 : 1;
    uint32_t R = TILE_ELEMS / p->cols;
    if (R < P)
        R = P; /* a row for every compute core (the row-wise ops split rows) */
    if (R > p->rows)
        R = p->rows;
    if (R > P && R < p->rows)
        R -= R % P;
    const uint32_t avail = lora_tcdm_free();
    while (R > 0 && gb + 2 * per_row_sets * round64(R * row_bytes) > avail)
        R--;
    p->tcdm_bytes = gb + 2 * per_row_sets * round64((R ? R : 1) * row_bytes);
    if (R == 0)
        return ERR_TCDM;
    p->R = R;
    p->ntiles = (p->rows + R - 1) / R;
    uintptr_t a = align64((uintptr_t)__tcdm_data_end);
    p->gb = (ebits_t *)a;
    a += gb;
    for (int b = 0; b < 2; b++) {
        p->x[b] = (ebits_t *)a;
        a += round64(R * row_bytes);
        p->z[b] = (ebits_t *)a;
        if (has_z(p->op))
            a += round64(R * row_bytes);
    }
    return 0;
}

/* MEANPOOL's output row in TCDM (after the column sums). */
static ebits_t *mean_row(const struct plan *p)
{
    return (ebits_t *)((uintptr_t)p->gb + round64(4 * p->cols));
}

static uint32_t tile_rows(const struct plan *p, uint32_t q)
{
    uint32_t left = p->rows - q * p->R;
    return left < p->R ? left : p->R;
}

/* ------------------------------------------------------------------------------------------ */
/* DMA core                                                                                     */

static uint32_t load_tile(const struct plan *p, uint32_t q)
{
    const uint32_t off = q * p->R * p->cols, n = tile_rows(p, q), bytes = ES * n * p->cols;
    if (p->pitch != p->cols) {
        uint32_t id = hetsim_dma_2d(p->x[q & 1], dyn_X + off, ES * p->cols, ES * p->pitch,
                                    ES * p->cols, n);
        if (has_z(p->op))
            id = hetsim_dma_2d(p->z[q & 1], dyn_Z + off, ES * p->cols, ES * p->pitch,
                               ES * p->cols, n);
        return id;
    }
    uint32_t id = hetsim_dma_1d(p->x[q & 1], dyn_X + off, bytes);
    if (has_z(p->op))
        id = hetsim_dma_1d(p->z[q & 1], dyn_Z + off, bytes);
    return id;
}

static uint32_t store_tile(const struct plan *p, uint32_t q)
{
    if (p->op == DYN_MEANPOOL) /* the output row, once, after the last tile's step */
        return q + 1 < p->ntiles ? 0 : hetsim_dma_1d(dyn_Y, mean_row(p), ES * p->cols);
    ebits_t *dst = dyn_Y + q * p->R * p->cols;
    const uint32_t n = tile_rows(p, q);
    if (p->pitch != p->cols)
        return hetsim_dma_2d(dst, p->x[q & 1], ES * p->cols, ES * p->cols, ES * p->pitch, n);
    return hetsim_dma_1d(dst, p->x[q & 1], ES * n * p->cols);
}

static void dma_core(const struct plan *p)
{
#ifdef DYN_F32
    if (p->op == DYN_NONORM || p->op == DYN_LAYERNORM) {
#else
    if (p->op == DYN_NONORM) {
        /* groups of 4 words: g[8k..8k+7] then b[8k..8k+7] (the compute cores' stream order) */
        hetsim_dma_2d(p->gb, dyn_G, 16, 32, 16, p->cols / 8);
        hetsim_dma_2d(p->gb + 8, dyn_B, 16, 32, 16, p->cols / 8);
    } else if (p->op == DYN_LAYERNORM) {
#endif
        hetsim_dma_1d(p->gb, dyn_G, ES * p->cols);
        hetsim_dma_1d(p->gb + p->cols, dyn_B, ES * p->cols);
    } else if (p->op == DYN_RMSNORM) {
        hetsim_dma_1d(p->gb, dyn_G, ES * p->cols);
    }
    hetsim_dma_wait(load_tile(p, 0));
    hetsim_barrier(); /* B0: gain, bias and tile 0 are in TCDM */
    uint32_t writeback = 0;
    for (uint32_t q = 0; q < p->ntiles; q++) {
        if (q + 1 < p->ntiles) {
            hetsim_dma_wait(writeback); /* buffer (q+1)%2 held tile q-1 */
            hetsim_dma_wait(load_tile(p, q + 1));
        }
        hetsim_barrier(); /* compute done with tile q, tile q+1 loaded */
        writeback = store_tile(p, q);
    }
    hetsim_dma_wait(writeback);
    hetsim_barrier(); /* every Y is in L2 */
}

#ifndef DYN_F32
/* ------------------------------------------------------------------------------------------ */
/* SSR + FREP ops (the FP registers are named in asm: the compiler must not use ft0-ft2)        */

#define CLOBBERS "memory", "f3", "f4", "f5", "f6", "f31"

/* y = x + z over n words (2 lanes each), in place in x. */
static void add_words(uint16_t *x, const uint16_t *z, uint32_t n)
{
    hetsim_ssr_read_1d(0, x, n, 4);
    hetsim_ssr_read_1d(1, z, n, 4);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 2, n - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 2, 4);
    hetsim_ssr_cfg(HETSIM_SSR_WPTR(1), 2, (uint32_t)(uintptr_t)x);
    hetsim_ssr_enable();
    __asm__ volatile(FREP_O("%0", 1, 0, 0) VFADD_H("ft2", "ft0", "ft1")::"r"(n - 1) : CLOBBERS);
    hetsim_ssr_disable();
}

/* y = x * z over n words (2 lanes each), in place in x. */
static void mul_words(uint16_t *x, const uint16_t *z, uint32_t n)
{
    hetsim_ssr_read_1d(0, x, n, 4);
    hetsim_ssr_read_1d(1, z, n, 4);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 2, n - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 2, 4);
    hetsim_ssr_cfg(HETSIM_SSR_WPTR(1), 2, (uint32_t)(uintptr_t)x);
    hetsim_ssr_enable();
    __asm__ volatile(FREP_O("%0", 1, 0, 0) VFMUL_H("ft2", "ft0", "ft1")::"r"(n - 1) : CLOBBERS);
    hetsim_ssr_disable();
}

/* y = max(x, +0) over n words, in place. */
static void relu_words(uint16_t *x, uint32_t n)
{
    hetsim_ssr_read_1d(0, x, n, 4);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 2, n - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 2, 4);
    hetsim_ssr_cfg(HETSIM_SSR_WPTR(1), 2, (uint32_t)(uintptr_t)x);
    __asm__ volatile("fmv.w.x f31, zero" ::: "f31");
    hetsim_ssr_enable();
    __asm__ volatile(FREP_O("%0", 1, 0, 0) VFMAX_H("ft2", "ft0", "f31")::"r"(n - 1) : CLOBBERS);
    hetsim_ssr_disable();
}

/* y = fp16(fp16(x g) + b) for n rows of cols elements, in place; gb interleaves g and b by
 * groups of 4 words (dma_core). ft1 re-reads gb for every row (2-D job). */
static void nonorm_rows(uint16_t *x, const uint16_t *gb, uint32_t cols, uint32_t n)
{
    const uint32_t W = cols / 2, words = n * W;
    hetsim_ssr_read_1d(0, x, words, 4);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, 2 * W - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, 4);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, n - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, (uint32_t)(-(int32_t)(4 * (2 * W - 1))));
    hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, (uint32_t)(uintptr_t)gb);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 2, words - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 2, 4);
    hetsim_ssr_cfg(HETSIM_SSR_WPTR(1), 2, (uint32_t)(uintptr_t)x);
    hetsim_ssr_enable();
    __asm__ volatile(FREP_O("%0", 8, 0, 0) VFMUL_H("f3", "ft0", "ft1") VFMUL_H("f4", "ft0", "ft1")
                         VFMUL_H("f5", "ft0", "ft1") VFMUL_H("f6", "ft0", "ft1")
                             VFADD_H("ft2", "f3", "ft1") VFADD_H("ft2", "f4", "ft1")
                                 VFADD_H("ft2", "f5", "ft1") VFADD_H("ft2", "f6", "ft1")::"r"(
                                     words / 4 - 1)
                     : CLOBBERS);
    hetsim_ssr_disable();
}

/* ------------------------------------------------------------------------------------------ */
/* Scalar ops (Zfh loads and stores, f32 arithmetic; built with -ffp-contract=off, so every
 * operation below is one instruction and one rounding)                                         */

typedef _Float16 elem_t;

#define LOG2E 0x1.715476p+0f
#define EXP2_C1 0x1.63e62cp-1f
#define EXP2_C2 0x1.d23a8cp-3f
#define EXP2_C3 0x1.3ba53cp-4f
#else
/* ------------------------------------------------------------------------------------------ */
/* The binary32 build: every op scalar f32 (-ffp-contract=off: one instruction and one
 * rounding per C operation), four elements per step (see exp2_x4)                             */

typedef float elem_t;

/* y = x + z, y = x * z, y = max(x, +0) over n elements, in place in x. */
static void add_elems(float *x, const float *z, uint32_t n, int mul)
{
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float a[4], b[4];
        for (int k = 0; k < 4; k++)
            a[k] = x[i + k];
        for (int k = 0; k < 4; k++)
            b[k] = z[i + k];
        for (int k = 0; k < 4; k++)
            a[k] = mul ? a[k] * b[k] : a[k] + b[k];
        for (int k = 0; k < 4; k++)
            x[i + k] = a[k];
    }
    for (; i < n; i++)
        x[i] = mul ? x[i] * z[i] : x[i] + z[i];
}

static void relu_elems(float *x, uint32_t n)
{
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float a[4];
        for (int k = 0; k < 4; k++)
            a[k] = x[i + k];
        for (int k = 0; k < 4; k++)
            a[k] = __builtin_fmaxf(a[k], 0.0f);
        for (int k = 0; k < 4; k++)
            x[i + k] = a[k];
    }
    for (; i < n; i++)
        x[i] = __builtin_fmaxf(x[i], 0.0f);
}

/* y = (x g) + b per column (two roundings), n rows of cols, in place. */
static void nonorm_rows(float *x, const float *g, const float *b, uint32_t cols, uint32_t n)
{
    for (uint32_t r = 0; r < n; r++, x += cols) {
        uint32_t j = 0;
        for (; j + 4 <= cols; j += 4) {
            float a[4], gg[4], bb[4];
            for (int k = 0; k < 4; k++)
                a[k] = x[j + k];
            for (int k = 0; k < 4; k++)
                gg[k] = g[j + k];
            for (int k = 0; k < 4; k++)
                bb[k] = b[j + k];
            for (int k = 0; k < 4; k++)
                a[k] = a[k] * gg[k];
            for (int k = 0; k < 4; k++)
                a[k] = a[k] + bb[k];
            for (int k = 0; k < 4; k++)
                x[j + k] = a[k];
        }
        for (; j < cols; j++)
            x[j] = x[j] * g[j] + b[j];
    }
}

#define LOG2E 0x1.715476p+0f
/* quintic fit of 2^f on [0, 1), p(0) = 1 (relative error < 1.5e-7 in f32 with fma) */
#define EXP2_C1 0x1.62e4bap-1f
#define EXP2_C2 0x1.ebdb58p-3f
#define EXP2_C3 0x1.c91cdcp-5f
#define EXP2_C4 0x1.27788ap-7f
#define EXP2_C5 0x1.e97430p-10f
#endif
#define GELU_C 0x1.6e4e26p-5f  /* 0.044715 */
#define GELU_K2 -0x1.26aec2p+1f /* -2 sqrt(2 / pi) log2(e) */

/* 2^t for t in [-127, 127] (the file's header gives the evaluation). */
static inline float exp2_approx(float t)
{
    int32_t n;
    __asm__("fcvt.w.s %0, %1, rdn" : "=r"(n) : "f"(t));
    float f = t - (float)n;
#ifdef DYN_F32
    float p = __builtin_fmaf(f, EXP2_C5, EXP2_C4);
    p = __builtin_fmaf(f, p, EXP2_C3);
    p = __builtin_fmaf(f, p, EXP2_C2);
#else
    float p = __builtin_fmaf(f, EXP2_C3, EXP2_C2);
#endif
    p = __builtin_fmaf(f, p, EXP2_C1);
    p = __builtin_fmaf(f, p, 1.0f);
    union {
        uint32_t u;
        float f;
    } s = {(uint32_t)(n + 127) << 23};
    return p * s.f;
}

/* 2^t of four values, step by step over the four: the core is in order and clang has no
 * pipeline model for it, so four elements' dependency chains only overlap when the source
 * interleaves them (one element's chain alone is ~75 cycles of FPU latency in GELU). Each
 * element's operations and roundings are exp2_approx's. */
static inline void exp2_x4(const float t[4], float e[4])
{
    int32_t n[4];
    float f[4], p[4];
    for (int k = 0; k < 4; k++)
        __asm__("fcvt.w.s %0, %1, rdn" : "=r"(n[k]) : "f"(t[k]));
    for (int k = 0; k < 4; k++)
        f[k] = t[k] - (float)n[k];
#ifdef DYN_F32
    for (int k = 0; k < 4; k++)
        p[k] = __builtin_fmaf(f[k], EXP2_C5, EXP2_C4);
    for (int k = 0; k < 4; k++)
        p[k] = __builtin_fmaf(f[k], p[k], EXP2_C3);
    for (int k = 0; k < 4; k++)
        p[k] = __builtin_fmaf(f[k], p[k], EXP2_C2);
#else
    for (int k = 0; k < 4; k++)
        p[k] = __builtin_fmaf(f[k], EXP2_C3, EXP2_C2);
#endif
    for (int k = 0; k < 4; k++)
        p[k] = __builtin_fmaf(f[k], p[k], EXP2_C1);
    for (int k = 0; k < 4; k++)
        p[k] = __builtin_fmaf(f[k], p[k], 1.0f);
    for (int k = 0; k < 4; k++) {
        union {
            uint32_t u;
            float f;
        } sc = {(uint32_t)(n[k] + 127) << 23};
        e[k] = p[k] * sc.f;
    }
}

static inline float gelu_t(float v)
{
    float k = __builtin_fmaf(v * v, GELU_C, 1.0f);
    float t = (v * k) * GELU_K2;
    return __builtin_fminf(__builtin_fmaxf(t, -127.0f), 127.0f);
}

/* Four elements at a time, each step over the four (see exp2_x4); same operations as gelu_t
 * and the tail's loop. */
static void gelu_elems(elem_t *x, uint32_t n, uint32_t w, uint32_t P)
{
    /* groups of 4 elements dealt round-robin to the cores (neighbouring cores on neighbouring
     * words, so lock-step cores hit different banks); core 0 takes the last n % 4 */
    for (uint32_t i = 4 * w; i + 4 <= n; i += 4 * P) {
        float v[4], a[4], t[4], e[4];
        for (int k = 0; k < 4; k++)
            v[k] = (float)x[i + k];
        for (int k = 0; k < 4; k++)
            a[k] = v[k] * v[k];
        for (int k = 0; k < 4; k++)
            a[k] = __builtin_fmaf(a[k], GELU_C, 1.0f);
        for (int k = 0; k < 4; k++)
            t[k] = v[k] * a[k];
        for (int k = 0; k < 4; k++)
            t[k] = t[k] * GELU_K2;
        for (int k = 0; k < 4; k++)
            t[k] = __builtin_fmaxf(t[k], -127.0f);
        for (int k = 0; k < 4; k++)
            t[k] = __builtin_fminf(t[k], 127.0f);
        exp2_x4(t, e);
        for (int k = 0; k < 4; k++)
            e[k] = 1.0f + e[k];
        for (int k = 0; k < 4; k++)
            e[k] = v[k] / e[k];
        for (int k = 0; k < 4; k++)
            x[i + k] = (elem_t)e[k];
    }
    for (uint32_t i = w == 0 ? n - n % 4 : n; i < n; i++) {
        float v = (float)x[i];
        x[i] = (elem_t)(v / (1.0f + exp2_approx(gelu_t(v))));
    }
}

/* SiLU, four elements at a time like gelu_elems (the same deal of groups to the cores). */
static void silu_elems(elem_t *x, uint32_t n, uint32_t w, uint32_t P)
{
    for (uint32_t i = 4 * w; i + 4 <= n; i += 4 * P) {
        float v[4], t[4], e[4];
        for (int k = 0; k < 4; k++)
            v[k] = (float)x[i + k];
        for (int k = 0; k < 4; k++)
            t[k] = v[k] * -LOG2E;
        for (int k = 0; k < 4; k++)
            t[k] = __builtin_fmaxf(t[k], -127.0f);
        for (int k = 0; k < 4; k++)
            t[k] = __builtin_fminf(t[k], 127.0f);
        exp2_x4(t, e);
        for (int k = 0; k < 4; k++)
            e[k] = 1.0f + e[k];
        for (int k = 0; k < 4; k++)
            e[k] = v[k] / e[k];
        for (int k = 0; k < 4; k++)
            x[i + k] = (elem_t)e[k];
    }
    for (uint32_t i = w == 0 ? n - n % 4 : n; i < n; i++) {
        float v = (float)x[i];
        float t = __builtin_fminf(__builtin_fmaxf(v * -LOG2E, -127.0f), 127.0f);
        x[i] = (elem_t)(v / (1.0f + exp2_approx(t)));
    }
}

static void rmsnorm_rows(elem_t *x, const elem_t *g, uint32_t cols, uint32_t pitch, uint32_t n,
                         float inv_n, float eps)
{
    for (uint32_t r = 0; r < n; r++, x += pitch) {
        float q[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        uint32_t j = 0;
        for (; j + 4 <= cols; j += 4) {
            float v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                q[k] = __builtin_fmaf(v[k], v[k], q[k]);
        }
        for (uint32_t k = 0; j < cols; j++, k++) {
            float v = (float)x[j];
            q[k] = __builtin_fmaf(v, v, q[k]);
        }
        const float ms = ((q[0] + q[1]) + (q[2] + q[3])) * inv_n;
        const float rs = 1.0f / __builtin_sqrtf(ms + eps);
        for (j = 0; j + 4 <= cols; j += 4) {
            float d[4], gg[4];
            for (int k = 0; k < 4; k++)
                d[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                gg[k] = (float)g[j + k];
            for (int k = 0; k < 4; k++)
                d[k] = d[k] * rs;
            for (int k = 0; k < 4; k++)
                d[k] = d[k] * gg[k];
            for (int k = 0; k < 4; k++)
                x[j + k] = (elem_t)d[k];
        }
        for (; j < cols; j++)
            x[j] = (elem_t)(((float)x[j] * rs) * (float)g[j]);
    }
}

/* Rotate-half RoPE of n rows of cols (heads of hd), in place; cs holds each row's cos/sin. */
static void rope_rows(elem_t *x, const elem_t *cs, uint32_t cols, uint32_t pitch, uint32_t hd,
                      uint32_t n)
{
    const uint32_t half = hd / 2;
    for (uint32_t r = 0; r < n; r++, x += pitch, cs += pitch) {
        for (uint32_t h0 = 0; h0 < cols; h0 += hd) {
            elem_t *xa = x + h0, *xb = x + h0 + half;
            const elem_t *c = cs + h0, *sn = cs + h0 + half;
            uint32_t i = 0;
            for (; i + 4 <= half; i += 4) {
                float a[4], b[4], cc[4], ss[4], u[4], v[4];
                for (int k = 0; k < 4; k++) {
                    a[k] = (float)xa[i + k];
                    b[k] = (float)xb[i + k];
                }
                for (int k = 0; k < 4; k++) {
                    cc[k] = (float)c[i + k];
                    ss[k] = (float)sn[i + k];
                }
                for (int k = 0; k < 4; k++) {
                    u[k] = a[k] * cc[k];
                    v[k] = b[k] * ss[k];
                }
                for (int k = 0; k < 4; k++)
                    xa[i + k] = (elem_t)(u[k] - v[k]);
                for (int k = 0; k < 4; k++) {
                    u[k] = a[k] * ss[k];
                    v[k] = b[k] * cc[k];
                }
                for (int k = 0; k < 4; k++)
                    xb[i + k] = (elem_t)(u[k] + v[k]);
            }
            for (; i < half; i++) {
                float a = (float)xa[i], b = (float)xb[i], cc = (float)c[i], ss = (float)sn[i];
                xa[i] = (elem_t)(a * cc - b * ss);
                xb[i] = (elem_t)(a * ss + b * cc);
            }
        }
    }
}

static void layernorm_rows(elem_t *x, const elem_t *g, const elem_t *b, uint32_t cols, uint32_t pitch,
                           uint32_t n, float inv_n, float eps)
{
    for (uint32_t r = 0; r < n; r++, x += pitch) {
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        uint32_t j = 0;
        for (; j + 4 <= cols; j += 4) {
            float v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                s[k] += v[k];
        }
        for (uint32_t k = 0; j < cols; j++, k++)
            s[k] += (float)x[j];
        const float mean = ((s[0] + s[1]) + (s[2] + s[3])) * inv_n;
        float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (j = 0; j + 4 <= cols; j += 4) {
            float d[4];
            for (int k = 0; k < 4; k++)
                d[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                d[k] = d[k] - mean;
            for (int k = 0; k < 4; k++)
                v[k] = __builtin_fmaf(d[k], d[k], v[k]);
        }
        for (uint32_t k = 0; j < cols; j++, k++) {
            float d = (float)x[j] - mean;
            v[k] = __builtin_fmaf(d, d, v[k]);
        }
        const float var = ((v[0] + v[1]) + (v[2] + v[3])) * inv_n;
        const float rs = 1.0f / __builtin_sqrtf(var + eps);
        for (j = 0; j + 4 <= cols; j += 4) {
            float d[4], gg[4], bb[4];
            for (int k = 0; k < 4; k++)
                d[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                gg[k] = (float)g[j + k];
            for (int k = 0; k < 4; k++)
                bb[k] = (float)b[j + k];
            for (int k = 0; k < 4; k++)
                d[k] = d[k] - mean;
            for (int k = 0; k < 4; k++)
                d[k] = d[k] * rs;
            for (int k = 0; k < 4; k++)
                d[k] = __builtin_fmaf(d[k], gg[k], bb[k]);
            for (int k = 0; k < 4; k++)
                x[j + k] = (elem_t)d[k];
        }
        for (; j < cols; j++) {
            float d = (float)x[j] - mean;
            x[j] = (elem_t)__builtin_fmaf(d * rs, (float)g[j], (float)b[j]);
        }
    }
}

static void softmax_rows(elem_t *x, uint32_t cols, uint32_t pitch, uint32_t n)
{
    for (uint32_t r = 0; r < n; r++, x += pitch) {
        /* four partial maxima: fmax.s is a total order on non-NaN values (-0 < +0) and ignores
         * NaNs, so any grouping gives the same m */
        float mm[4] = {-__builtin_inff(), -__builtin_inff(), -__builtin_inff(),
                       -__builtin_inff()};
        uint32_t j = 0;
        for (; j + 4 <= cols; j += 4) {
            float v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                mm[k] = __builtin_fmaxf(mm[k], v[k]);
        }
        for (; j < cols; j++)
            mm[0] = __builtin_fmaxf(mm[0], (float)x[j]);
        const float m = __builtin_fmaxf(__builtin_fmaxf(mm[0], mm[1]), __builtin_fmaxf(mm[2], mm[3]));
        float sum = 0.0f;
        for (j = 0; j + 4 <= cols; j += 4) {
            float t[4], e[4];
            for (int k = 0; k < 4; k++)
                t[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                t[k] = t[k] - m;
            for (int k = 0; k < 4; k++)
                t[k] = t[k] * LOG2E;
            for (int k = 0; k < 4; k++)
                t[k] = __builtin_fmaxf(t[k], -127.0f);
            exp2_x4(t, e);
            for (int k = 0; k < 4; k++)
                x[j + k] = (elem_t)e[k];
            sum += e[0];
            sum += e[1];
            sum += e[2];
            sum += e[3];
        }
        for (; j < cols; j++) {
            float e = exp2_approx(__builtin_fmaxf(((float)x[j] - m) * LOG2E, -127.0f));
            x[j] = (elem_t)e;
            sum += e;
        }
        const float rs = 1.0f / sum;
        for (j = 0; j + 4 <= cols; j += 4) {
            float e[4];
            for (int k = 0; k < 4; k++)
                e[k] = (float)x[j + k];
            for (int k = 0; k < 4; k++)
                e[k] = e[k] * rs;
            for (int k = 0; k < 4; k++)
                x[j + k] = (elem_t)e[k];
        }
        for (; j < cols; j++)
            x[j] = (elem_t)((float)x[j] * rs);
    }
}

/* Column sums of a tile's n rows for the groups of 4 columns dealt round-robin to the cores
 * (core 0 also takes the last cols % 4), kept in sums between tiles (q = 0 starts them at +0);
 * after the last tile each column's mean, rounded to the element format, goes to out. */
static __attribute__((noinline)) void meanpool_cols(const elem_t *x, float *sums, elem_t *out, uint32_t cols, uint32_t n,
                          uint32_t q, uint32_t last, float total, uint32_t w, uint32_t P)
{
    for (uint32_t j = 4 * w; j + 4 <= cols; j += 4 * P) {
        float a[4];
        for (int k = 0; k < 4; k++)
            a[k] = q == 0 ? 0.0f : sums[j + k];
        const elem_t *xr = x + j;
        for (uint32_t r = 0; r < n; r++, xr += cols) {
            float v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (float)xr[k];
            for (int k = 0; k < 4; k++)
                a[k] += v[k];
        }
        if (last) {
            for (int k = 0; k < 4; k++)
                a[k] = a[k] / total;
            for (int k = 0; k < 4; k++)
                out[j + k] = (elem_t)a[k];
        } else {
            for (int k = 0; k < 4; k++)
                sums[j + k] = a[k];
        }
    }
    for (uint32_t j = w == 0 ? cols - cols % 4 : cols; j < cols; j++) {
        float a = q == 0 ? 0.0f : sums[j];
        for (uint32_t r = 0; r < n; r++)
            a += (float)x[r * cols + j];
        if (last)
            out[j] = (elem_t)(a / total);
        else
            sums[j] = a;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Compute cores                                                                                */

static void compute_tile(const struct plan *p, uint32_t q, uint32_t w, uint32_t P, float inv_n)
{
    const uint32_t n = tile_rows(p, q), cols = p->cols, b = q & 1;
    uint32_t lo, hi;
    switch (p->op) {
#ifdef DYN_F32
    case DYN_ADD:
    case DYN_MUL:
    case DYN_RELU:
        split(n * cols, w, P, &lo, &hi);
        if (lo == hi)
            return;
        if (p->op == DYN_RELU)
            relu_elems((float *)p->x[b] + lo, hi - lo);
        else
            add_elems((float *)p->x[b] + lo, (const float *)p->z[b] + lo, hi - lo,
                      p->op == DYN_MUL);
        return;
#else
    case DYN_ADD:
    case DYN_MUL:
    case DYN_RELU:
        split(n * cols / 2, w, P, &lo, &hi);
        if (lo == hi)
            return;
        if (p->op == DYN_ADD)
            add_words(p->x[b] + 2 * lo, p->z[b] + 2 * lo, hi - lo);
        else if (p->op == DYN_MUL)
            mul_words(p->x[b] + 2 * lo, p->z[b] + 2 * lo, hi - lo);
        else
            relu_words(p->x[b] + 2 * lo, hi - lo);
        return;
#endif
    case DYN_GELU:
        gelu_elems((elem_t *)p->x[b], n * cols, w, P);
        return;
    case DYN_SILU:
        silu_elems((elem_t *)p->x[b], n * cols, w, P);
        return;
    default:
        break;
    }
    split(n, w, P, &lo, &hi);
    if (lo == hi)
        return;
    elem_t *x = (elem_t *)p->x[b] + lo * p->pitch;
#ifdef DYN_F32
    if (p->op == DYN_NONORM)
        nonorm_rows(x, (const float *)p->gb, (const float *)p->gb + cols, cols, hi - lo);
#else
    if (p->op == DYN_NONORM)
        nonorm_rows((uint16_t *)x, p->gb, cols, hi - lo);
#endif
    else if (p->op == DYN_RMSNORM)
        rmsnorm_rows(x, (const elem_t *)p->gb, cols, p->pitch, hi - lo, inv_n, p->eps);
    else if (p->op == DYN_ROPE)
        rope_rows(x, (const elem_t *)p->z[b] + lo * p->pitch, cols, p->pitch, p->hd, hi - lo);
    else if (p->op == DYN_LAYERNORM)
        layernorm_rows(x, (const elem_t *)p->gb, (const elem_t *)p->gb + cols, cols, p->pitch, hi - lo,
                       inv_n, p->eps);
    else
        softmax_rows(x, cols, p->pitch, hi - lo);
}

static void compute_core(const struct plan *p, uint32_t w, uint32_t P)
{
    const float inv_n = 1.0f / (float)p->cols;
    hetsim_barrier(); /* B0 */
    for (uint32_t q = 0; q < p->ntiles; q++) {
        hetsim_region_begin(REGION_TILES);
        if (p->op == DYN_MEANPOOL)
            meanpool_cols((const elem_t *)p->x[q & 1], (float *)p->gb, (elem_t *)mean_row(p),
                          p->cols, tile_rows(p, q), q, q + 1 == p->ntiles, (float)p->rows, w, P);
        else
            compute_tile(p, q, w, P, inv_n);
        hetsim_region_end(REGION_TILES);
        hetsim_barrier();
    }
    hetsim_barrier();
}

/* 0 if this core's share of Y equals dyn_expected bit for bit, else 1 + the first bad index. */
static uint32_t check_share(const struct plan *p, uint32_t w, uint32_t P)
{
    uint32_t lo, hi;
    split(p->op == DYN_MEANPOOL ? p->cols : p->rows * p->cols, w, P, &lo, &hi);
    for (uint32_t i = lo; i < hi; i++)
        if (dyn_Y[i] != dyn_expected[i])
            return i + 1;
    return 0;
}

int main(uint32_t hart, uint32_t ncores)
{
    struct plan p;
    int err = make_plan(&p, ncores);
    if (err) {
        if (hart == 0) {
            struct lora_plan lp = {0};
            lp.tcdm_bytes = p.tcdm_bytes;
            if (!lora_report(err, &lp, ncores, &K))
#ifdef DYN_F32
                hetsim_puts("unsupported op or shape: op 1..11; cols a multiple of head_dim "
                            "(even) for rope\n");
#else
                hetsim_puts("unsupported op or shape: op 1..11; cols even for add, mul and "
                            "relu, a multiple of 8 for nonorm, of head_dim (even) for rope\n");
#endif
        }
        return err;
    }
    const uint32_t P = ncores - 1;
    if (hart == 0) {
        dyn_used_rows = p.R;
        dyn_used_tcdm = p.tcdm_bytes;
    }
    hetsim_region_begin(REGION_DYN);
    if (hart == P)
        dma_core(&p);
    else
        compute_core(&p, hart, P);
    hetsim_region_end(REGION_DYN);

    if (*(volatile uint32_t *)&dyn_check == 0)
        return 0;
    uint32_t mine = hart < P ? check_share(&p, hart, P) : 0;
    return lora_check_reduce(dyn_bad, mine, hart, P, p.cols, &K, "");
}
