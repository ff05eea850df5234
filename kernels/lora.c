/* lora.c - multi-core LoRA for a batch of tokens on the hetsim cluster, fp32.
 *
 *   Y = XW + (X A) B      X: t x in, XW: t x out (given: the AIMC tile's output),
 *                         A: in x r, B: r x out, Y: t x out; all row-major, packed, in L2.
 *
 * One binary serves every shape: (in, out, r, t) are read at run time from `lora_shape`.
 * Cores 0..P-1 (P = N - 1) compute; core N-1 (the DMA core) moves data:
 *
 *   DMA core: A, B -> TCDM once; then token chunks of c tokens, double-buffered: while the
 *   compute cores work on chunk q in buffer q%2, chunk q+1's X and XW are loaded into buffer
 *   (q+1)%2 (after chunk q-1's results have left that buffer), and chunk q's Y goes back to L2
 *   once phase 2 is done.
 *
 *   compute core w, per chunk q (cq tokens):
 *     phase 1 (region 2): H = X_q A, the cq*r outputs (token-major, e = tok*r + k) split into P
 *                         contiguous ranges (split(): the first (cq*r) % P cores get one more);
 *     barrier
 *     phase 2 (region 3): Y_q = XW_q + H B, in place in the XW tile, columns split into P
 *                         contiguous ranges (same split of out) over all cq tokens;
 *     barrier (chunk q+1 is in TCDM by then)
 *
 * Evaluation order (so a host reference can be bit-exact; every step one fp32 fmadd.s, RNE):
 *   h[tok][k] = 0; for i = 0..in-1: h = fma(X[tok][i], A[i][k], h)
 *   y[tok][j] = XW[tok][j]; for k = 0..r-1: y = fma(h[tok][k], B[k][j], y)
 *
 * Regions (per core): 1 = the whole kernel on every core (from before the first DMA to after
 * the final barrier), 2 = phase 1 and 3 = phase 2 on the compute cores (entered once per chunk;
 * the simulator sums them).
 *
 * TCDM footprint (bytes, every buffer rounded up to 64 bytes), c = tokens per chunk:
 *   4 * (in*r + r*out + c*r + 2*c*in + 2*c*out)  <=  TCDM_END - TCDM_BASE - N * 1024
 * c = min(t, lora_chunk (default 8; 0 = no limit), the largest c that fits).
 *
 * Exit codes: 0 pass (or ran without the self-check), 1 self-check mismatch, 2 no compute core
 * (N < 2), 3 a zero dimension, 4 shape exceeds the static L2 buffers (in, out <= 512, r <= 16,
 * t <= 128), 5 does not fit in TCDM even with one token per chunk. Each non-zero exit prints a
 * line on the console.
 *
 * Self-check: when lora_check != 0 (default 1) and lora_shape is the default shape, the compute
 * cores compare Y with lora_expected (|y - e| <= 1e-5 * scale) after the kernel. A scenario
 * that binds its own data with the default shape must bind lora_check = 0.
 */
#include <stdint.h>

#include "hetsim.h"
#include "lora_cluster_data.h"
#include "lora_common.h"

static const struct lora_kernel K = {"lora", "lora_shape", "1 compute + 1 DMA",
                                      "in, out <= 512, r <= 16, t <= 128", LORA_MAX_IN,
                                      LORA_MAX_OUT, LORA_MAX_R, LORA_MAX_T};

/* Bound by name by the simulator (u32 little-endian). */
struct lora_shape lora_shape = {LORA_DEF_IN, LORA_DEF_OUT, LORA_DEF_R, LORA_DEF_T};
uint32_t lora_check = 1;
uint32_t lora_chunk = 8;
/* Batches of t tokens served by this run (persistent kernel, lora_common.h); default 1. */
uint32_t lora_batches = 1;

/* Output: t x out, not zeroed at start-up (.l2_noinit: no file bytes). */
float lora_Y[LORA_MAX_T * LORA_MAX_OUT] __attribute__((section(".l2_noinit"), aligned(64)));

/* Per-core result of the self-check (0 = good, else 1 + index of the first bad output). */
uint32_t lora_bad[HETSIM_MAX_CORES];
/* Chunk size the run used, and TCDM bytes it needed (written by hart 0, for the curious). */
uint32_t lora_used_chunk;
uint32_t lora_used_tcdm;

/* TCDM buffers (fp32): A in x r, B r x out, H c x r, X c x in, Y c x out. */
static struct lora_bufs bufs(const struct lora_plan *p, uint32_t c)
{
    return (struct lora_bufs){4 * p->in * p->r, 4 * p->r * p->out, 4 * c * p->r, 4 * c * p->in,
                              4 * c * p->out};
}

/* Same on every core (pure function of the shape and the cluster). */
static int make_plan(struct lora_plan *p, uint32_t ncores)
{
    int err = lora_plan_shape(p, &lora_shape, &lora_batches, ncores, &K);
    return err ? err : lora_plan_chunks(p, &lora_chunk, 1, bufs);
}

/* ------------------------------------------------------------------------------------------ */
/* DMA core                                                                                     */

static void dma_core(const struct lora_plan *p)
{
    static const struct lora_io io = {lora_X, lora_XW, lora_Y, 4, 2, 0};
    hetsim_dma_1d(p->A, lora_A, 4 * p->in * p->r);
    hetsim_dma_1d(p->B, lora_B, 4 * p->r * p->out);
    lora_dma_chunks(p, &io);
}

/* ------------------------------------------------------------------------------------------ */
/* Compute cores                                                                                */

/* A core's share of phase 1: outputs e in [e0, e1), starting at token tok, rank index k
 * (e0 = tok*r + k). Computed once per core (the MUL/DIV unit is shared by the cluster). */
struct range {
    uint32_t e0, e1, tok, k;
};

static struct range phase1_range(uint32_t ne, uint32_t r, uint32_t w, uint32_t P)
{
    struct range g;
    split(ne, w, P, &g.e0, &g.e1);
    g.tok = opaque(g.e0 / r);
    g.k = opaque(g.e0 - g.tok * r);
    return g;
}

/* H[e] for e in g: dot(X[tok][:], A[:][k]), four k at a time when they belong to the same
 * token; token and k advance incrementally (no division). */
static void phase1(const struct lora_plan *p, const float *X, const struct range *g)
{
    const uint32_t in = p->in, r = p->r, e1 = g->e1;
    const float *A = p->A;
    float *H = p->H;
    uint32_t k = g->k, e = g->e0;
    const float *x = X + g->tok * in;
    const uint32_t rstride = r;
    while (e < e1) {
        const float *a = A + k;
        uint32_t step;
        if (k + 4 <= r && e + 4 <= e1) {
            float h0 = 0.0f, h1 = 0.0f, h2 = 0.0f, h3 = 0.0f;
            for (uint32_t i = 0; i < in; i++) {
                float xi = x[i];
                h0 += xi * a[0];
                h1 += xi * a[1];
                h2 += xi * a[2];
                h3 += xi * a[3];
                a += rstride;
            }
            H[e] = h0;
            H[e + 1] = h1;
            H[e + 2] = h2;
            H[e + 3] = h3;
            step = 4;
        } else {
            float h = 0.0f;
            for (uint32_t i = 0; i < in; i++) {
                h += x[i] * *a;
                a += rstride;
            }
            H[e] = h;
            step = 1;
        }
        e += step;
        k += step;
        if (k == r) {
            k = 0;
            x += in;
        }
    }
}

/* Y[tok][j] = XW[tok][j] + sum_k H[tok][k] B[k][j] for j in [j0, j1), all tokens of the chunk,
 * in place (Y holds XW on entry). */
static void phase2(const struct lora_plan *p, float *Y, uint32_t n, uint32_t j0, uint32_t j1)
{
    const uint32_t out = p->out, r = p->r;
    const float *B = p->B;
    for (uint32_t tok = 0; tok < n; tok++) {
        const float *h = (const float *)p->H + tok * r;
        float *y = Y + tok * out;
        uint32_t j = j0;
        for (; j + 4 <= j1; j += 4) {
            float y0 = y[j], y1 = y[j + 1], y2 = y[j + 2], y3 = y[j + 3];
            const float *b = B + j;
            for (uint32_t k = 0; k < r; k++) {
                float hk = h[k];
                y0 += hk * b[0];
                y1 += hk * b[1];
                y2 += hk * b[2];
                y3 += hk * b[3];
                b += out;
            }
            y[j] = y0;
            y[j + 1] = y1;
            y[j + 2] = y2;
            y[j + 3] = y3;
        }
        for (; j < j1; j++) {
            float acc = y[j];
            const float *b = B + j;
            for (uint32_t k = 0; k < r; k++) {
                acc += h[k] * *b;
                b += out;
            }
            y[j] = acc;
        }
    }
}

static void compute_core(const struct lora_plan *p, uint32_t w, uint32_t P)
{
    /* work ranges, computed once: columns, and phase-1 outputs of a full and of the last chunk */
    uint32_t j0, j1;
    split(p->out, w, P, &j0, &j1);
    struct range full = phase1_range(p->c * p->r, p->r, w, P);
    struct range last = phase1_range(lora_chunk_tokens(p, p->cpb - 1) * p->r, p->r, w, P);
    hetsim_barrier(); /* B0 */
    for (uint32_t q = 0, j = 0; q < p->nchunks; q++, j = lora_next_in_batch(p, j)) {
        uint32_t n = lora_chunk_tokens(p, j), b = q & 1;
        hetsim_region_begin(REGION_PHASE1);
        phase1(p, p->X[b], lora_chunk_ends_batch(p, j) ? &last : &full);
        hetsim_region_end(REGION_PHASE1);
        hetsim_barrier(); /* B1 */
        hetsim_region_begin(REGION_PHASE2);
        phase2(p, p->Y[b], n, j0, j1);
        hetsim_region_end(REGION_PHASE2);
        hetsim_barrier(); /* B2 */
    }
    hetsim_barrier(); /* B3 */
}

/* ------------------------------------------------------------------------------------------ */

/* 0 if this core's columns of Y match, else 1 + index of its first bad output. */
static uint32_t check_columns(const struct lora_plan *p, uint32_t w, uint32_t P)
{
    uint32_t j0, j1;
    split(p->out, w, P, &j0, &j1);
    for (uint32_t tok = 0; tok < p->t; tok++) {
        for (uint32_t j = j0; j < j1; j++) {
            uint32_t i = tok * p->out + j;
            float err = __builtin_fabsf(lora_Y[i] - lora_expected[i]);
            if (!(err <= LORA_RTOL * lora_scale[i])) /* a NaN fails too */
                return i + 1;
        }
    }
    return 0;
}

int main(uint32_t hart, uint32_t ncores)
{
    struct lora_plan p;
    int err = make_plan(&p, ncores);
    if (err) {
        if (hart == 0)
            lora_report(err, &p, ncores, &K);
        return err; /* harts != 0 sleep; hart 0 exits */
    }
    const uint32_t P = ncores - 1;
    if (hart == 0) {
        lora_used_chunk = p.c;
        lora_used_tcdm = p.tcdm_bytes;
    }

    hetsim_region_begin(REGION_LORA);
    if (hart == P)
        dma_core(&p);
    else
        compute_core(&p, hart, P);
    hetsim_region_end(REGION_LORA);

    const struct lora_shape d = {LORA_DEF_IN, LORA_DEF_OUT, LORA_DEF_R, LORA_DEF_T};
    int check = *(volatile uint32_t *)&lora_check != 0 && p.in == d.in && p.out == d.out &&
                p.r == d.r && p.t == d.t;
    if (!check)
        return 0; /* every core got here after B3: hart 0's exit ends a complete run */

    uint32_t mine = hart < P ? check_columns(&p, hart, P) : 0;
    return lora_check_reduce(lora_bad, mine, hart, P, p.out, &K,
                             " (binding other data with the default shape? bind lora_check = 0)");
}
