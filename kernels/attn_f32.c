/* attn_f32 - attention scores S = (Q K^T) * scale per head, with an optional causal mask and
 * grouped-query heads, and the attention context C = P V per head (`attn_op` = 1), in binary32
 * on the plain RV32IMF cluster (models/presets/cluster-snitch.ron: no extension needed; scalar
 * fmadd.s on the 8 compute cores, the DMA core double-buffering from L2).
 *
 * The ABI is attn_f16's (kernels/attn_f16.c) with binary32 elements:
 * `attn_op` (u32): 0 = scores, 1 = context. `attn_desc` = {seq, seq_k, heads, kv_heads,
 * head_dim, causal, scale_bits} (7 x u32). Operands (row-major binary32 in L2, bound by name):
 *   attn_Q  seq x (heads * head_dim)        query head h is columns h*hd .. h*hd + hd - 1
 *   attn_K  seq_k x (kv_heads * head_dim)   key head kh likewise (V for the context)
 *   attn_S  seq x (heads * seq_k)           scores out (P in for the context)
 *   attn_C  seq x (heads * head_dim)        context out
 * Query head h reads key (value) head h / (heads / kv_heads).
 *
 * Numerics (round to nearest even; built with -ffp-contract=off, every C operation one
 * instruction), kh = h / (heads / kv_heads):
 *   scores:  acc = +0; for d = 0 .. hd - 1: acc = fma(Q[i][h hd + d], K[j][kh hd + d], acc);
 *            S[i][h seq_k + j] = acc * scale; causal and j > i: S = -inf, written after.
 *   context: acc = +0; for j = 0 .. seq_k - 1: acc = fma(P[i][h seq_k + j], V[j][kh hd + d],
 *            acc); C[i][h hd + d] = acc.
 * sim/src/simulate/attn_kernel.rs reproduces both bit for bit.
 *
 * Schedule (both): per key (value) head kh, the DMA core (the last hart) loads K_kh (V_kh) into
 * TCDM, then double-buffers tiles of R query rows (R = 2 per compute core, fewer when TCDM is
 * short) of each query head of the group and writes each finished tile back (2-D DMA). The
 * compute cores split a tile's rows. Scores: K_kh is stored by blocks of 8 keys, feature-major
 * inside a block (Kt[b][d][k] = K[8b + k][d]: one 2-D transfer per key, hd rows of one word, so
 * the 8 keys of a feature are 8 consecutive words at constant offsets; keys seq_k .. pk - 1 of
 * the last block are computed and not stored); per row and block of 8 keys, per feature one
 * load of q, 8 loads of k, 8 fmadd.s into 8 accumulators, then 8 fmul.s by the scale and 8
 * stores. Context: per row and block of 8 features (V_kh rows of hd words), per key one load of
 * p, 8 loads of v, 8 fmadd.s, then 8 stores.
 *
 * Limits: scores: head_dim 1 .. 256; context: head_dim a multiple of 8, 8 .. 256; heads a
 * multiple of kv_heads; Q, K, V, C <= 65536 elements, S, P <= 409600; K_kh (V_kh) and two
 * tiles of one row each in TCDM.
 *
 * Exit codes: 0 pass, 1 self-check mismatch (attn_check, attn_expected: S, or C for the
 * context), 2 no compute core, 3 a zero dimension, 4 beyond the L2 buffers, 5 does not fit in
 * TCDM, 6 unsupported shape or operation.
 */
#include <stdint.h>

#include "hetsim.h"
#include "lora_common.h"

#define ATTN_MAX_IN (64 * 1024)   /* elements of Q, K (V) and C */
#define ATTN_MAX_OUT (400 * 1024) /* elements of S (P): 320 x 4 heads x 320 */
#define U 8                       /* keys (features) per block */
#define REGION_ATTN 1
#define REGION_TILES 2
#define NEG_INF 0xff800000u

struct attn_desc {
    uint32_t seq, seq_k, heads, kv_heads, head_dim, causal, scale_bits;
};

#define BOUND __attribute__((section(".data")))
#define L2BUF __attribute__((section(".l2_noinit"), aligned(64)))
struct attn_desc attn_desc BOUND = {64, 64, 4, 4, 32, 0, 0x3e3504f3 /* 1 / sqrt(32) */};
uint32_t attn_check BOUND = 0;
uint32_t attn_op BOUND = 0; /* 0 scores, 1 context */
/* ABI marker (read by the host): the binary32 build of attn_f16's ABI 2. */
const uint32_t attn_f32_abi = 1;
float attn_Q[ATTN_MAX_IN] L2BUF;
float attn_K[ATTN_MAX_IN] L2BUF;
float attn_S[ATTN_MAX_OUT] L2BUF;
uint32_t attn_expected[ATTN_MAX_OUT] L2BUF;
float attn_C[ATTN_MAX_IN] L2BUF;

uint32_t attn_bad[HETSIM_MAX_CORES];
uint32_t attn_used_rows;
uint32_t attn_used_tcdm;

static const struct lora_kernel K = {"attn_f32", "attn_desc", "1 compute + 1 DMA",
                                     "Q, K, V, C <= 65536 elements, S, P <= 409600", 0, 0, 0, 0};

/* One plan for both operations: `kv` is K_kh (scores) or V_kh (context), `in` the query or P
 * tiles, `out` the score or context tiles. */
struct plan {
    uint32_t op, seq, sk, pk, heads, kv, hd, causal, group;
    uint32_t kvp;       /* words per key (value) row in TCDM: hd (Kt blocks, V_kh rows) */
    uint32_t ip, opt;   /* in and out tile row pitches in words */
    uint32_t icols;     /* words of an in row in L2: hd (Q) or seq_k (P) */
    uint32_t ocols;     /* words of an out row in L2: seq_k (S) or hd (C) */
    uint32_t kvrows;    /* rows of K_kh (pk) or V_kh (seq_k) in TCDM */
    uint32_t R, ntiles; /* query rows per tile, tiles per head */
    uint32_t tcdm_bytes;
    float scale;
    float *kvb;             /* K_kh or V_kh */
    float *in[2], *out[2];  /* tiles */
};

static uint32_t plan_bytes(const struct plan *p, uint32_t R)
{
    return round64(4 * p->kvrows * p->kvp) + 2 * round64(4 * R * p->ip) +
           2 * round64(4 * R * p->opt);
}

static int make_plan(struct plan *p, uint32_t op, uint32_t ncores)
{
    const volatile struct attn_desc *d = &attn_desc;
    p->op = op;
    p->seq = d->seq;
    p->sk = d->seq_k;
    p->heads = d->heads;
    p->kv = d->kv_heads;
    p->hd = d->head_dim;
    p->causal = d->causal;
    union {
        uint32_t u;
        float f;
    } sc = {d->scale_bits};
    p->scale = sc.f;
    p->tcdm_bytes = 0;
    if (ncores < 2)
        return ERR_NO_COMPUTE_CORE;
    if (!p->seq || !p->sk || !p->heads || !p->kv || !p->hd)
        return ERR_ZERO_DIM;
    if (p->hd > 256 || p->heads % p->kv || (op == 1 && p->hd % U))
        return ERR_KERNEL;
    if (p->seq > ATTN_MAX_IN / (p->heads * p->hd) || p->sk > ATTN_MAX_IN / (p->kv * p->hd) ||
        p->seq > ATTN_MAX_OUT / (p->heads * p->sk))
        return ERR_TOO_BIG;
    const uint32_t P = ncores - 1;
    p->group = p->heads / p->kv;
    p->pk = (p->sk + U - 1) / U * U;
    if (op == 0) {
        p->kvp = p->hd;
        p->kvrows = p->pk;
        p->icols = p->hd;
        p->ip = p->hd + 1;
        p->ocols = p->sk;
        p->opt = p->pk;
    } else {
        p->kvp = p->hd;
        p->kvrows = p->sk;
        p->icols = p->sk;
        p->ip = p->sk + 1;
        p->ocols = p->hd;
        p->opt = p->hd;
    }
    uint32_t R = 2 * P;
    if (R > p->seq)
        R = p->seq;
    const uint32_t avail = lora_tcdm_free();
    while (R > 0 && plan_bytes(p, R) > avail)
        R--;
    p->tcdm_bytes = plan_bytes(p, R ? R : 1);
    if (R == 0)
        return ERR_TCDM;
    p->R = R;
    p->ntiles = (p->seq + R - 1) / R;
    uintptr_t a = align64((uintptr_t)__tcdm_data_end);
    p->kvb = (float *)a;
    a += round64(4 * p->kvrows * p->kvp);
    for (int b = 0; b < 2; b++) {
        p->in[b] = (float *)a;
        a += round64(4 * R * p->ip);
        p->out[b] = (float *)a;
        a += round64(4 * R * p->opt);
    }
    return 0;
}

static uint32_t tile_rows(const struct plan *p, uint32_t t)
{
    uint32_t left = p->seq - t * p->R;
    return left < p->R ? left : p->R;
}

/* ------------------------------------------------------------------------------------------ */
/* DMA core                                                                                     */

static uint32_t load_in(const struct plan *p, uint32_t h, uint32_t t, uint32_t b)
{
    const uint32_t width = p->heads * p->icols;
    const float *src = (p->op == 0 ? attn_Q : attn_S) + t * p->R * width + h * p->icols;
    return hetsim_dma_2d(p->in[b], src, 4 * p->icols, 4 * p->ip, 4 * width, tile_rows(p, t));
}

static uint32_t store_out(const struct plan *p, uint32_t h, uint32_t t, uint32_t b)
{
    const uint32_t width = p->heads * p->ocols;
    float *dst = (p->op == 0 ? attn_S : attn_C) + t * p->R * width + h * p->ocols;
    return hetsim_dma_2d(dst, p->out[b], 4 * p->ocols, 4 * width, 4 * p->opt, tile_rows(p, t));
}

/* K_kh into Kt (scores: key j's hd words to Kt[j / 8][.][j % 8], one transfer per key, at most
 * 5 outstanding: the queue holds 8) or V_kh row by row (context). */
static void load_kv(const struct plan *p, uint32_t kh)
{
    const uint32_t hd = p->hd;
    if (p->op == 1) {
        hetsim_dma_2d(p->kvb, attn_K + kh * hd, 4 * hd, 4 * hd, 4 * p->kv * hd, p->sk);
        return;
    }
    uint32_t id = 0;
    for (uint32_t j = 0; j < p->sk; j++) {
        hetsim_dma_wait(id > 4 ? id - 4 : 0);
        id = hetsim_dma_2d(p->kvb + (j / U) * U * hd + j % U, attn_K + j * p->kv * hd + kh * hd, 4,
                           4 * U, 4, hd);
    }
}

static void dma_core(const struct plan *p)
{
    const uint32_t units = p->group * p->ntiles;
    for (uint32_t kh = 0; kh < p->kv; kh++) {
        load_kv(p, kh);
        const uint32_t h0 = kh * p->group;
        hetsim_dma_wait(load_in(p, h0, 0, 0));
        hetsim_barrier(); /* A: K_kh (V_kh) and the first tile are in TCDM */
        uint32_t writeback = 0;
        for (uint32_t u = 0, h = h0, t = 0; u < units; u++) {
            uint32_t hn = h, tn = t + 1;
            if (tn == p->ntiles) {
                tn = 0;
                hn++;
            }
            if (u + 1 < units) {
                hetsim_dma_wait(writeback); /* buffer (u+1)%2 held unit u-1 */
                hetsim_dma_wait(load_in(p, hn, tn, (u + 1) & 1));
            }
            hetsim_barrier(); /* compute done with unit u, unit u+1 loaded */
            writeback = store_out(p, h, t, u & 1);
            h = hn;
            t = tn;
        }
        hetsim_dma_wait(writeback);
        hetsim_barrier(); /* B: the group's outputs are in L2, K_kh (V_kh) may be replaced */
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Compute cores                                                                                */

/* Scores of query rows [r0, r1) of a tile (global row i0 + r) against every key block. */
static void rows_scores(const struct plan *p, const float *q, float *s, uint32_t i0,
                        uint32_t r0, uint32_t r1)
{
    const uint32_t blocks = p->pk / U, hd = p->hd;
    const float scale = p->scale;
    for (uint32_t r = r0; r < r1; r++) {
        const float *qr = q + r * p->ip;
        float *sr = s + r * p->opt;
        for (uint32_t b = 0; b < blocks; b++) {
            const float *kb = p->kvb + b * U * hd;
            float acc[U];
            for (int k = 0; k < U; k++)
                acc[k] = 0.0f;
            for (uint32_t d = 0; d < hd; d++) {
                const float qv = qr[d];
                float kv[U];
                for (int k = 0; k < U; k++)
                    kv[k] = kb[d * U + k];
                for (int k = 0; k < U; k++)
                    acc[k] = __builtin_fmaf(qv, kv[k], acc[k]);
            }
            for (int k = 0; k < U; k++)
                sr[b * U + k] = acc[k] * scale;
        }
        if (p->causal) {
            uint32_t *sm = (uint32_t *)sr;
            for (uint32_t j = i0 + r + 1; j < p->sk; j++)
                sm[j] = NEG_INF;
        }
    }
}

/* Context rows [r0, r1) of a tile: per row and block of 8 features, the 8 sums over the keys. */
static void rows_context(const struct plan *p, const float *pt, float *ct, uint32_t r0,
                         uint32_t r1)
{
    const uint32_t blocks = p->hd / U, hd = p->hd, sk = p->sk;
    for (uint32_t r = r0; r < r1; r++) {
        const float *pr = pt + r * p->ip;
        float *cr = ct + r * p->opt;
        for (uint32_t b = 0; b < blocks; b++) {
            const float *vb = p->kvb + b * U;
            float acc[U];
            for (int k = 0; k < U; k++)
                acc[k] = 0.0f;
            for (uint32_t j = 0; j < sk; j++) {
                const float pv = pr[j];
                float vv[U];
                for (int k = 0; k < U; k++)
                    vv[k] = vb[j * hd + k];
                for (int k = 0; k < U; k++)
                    acc[k] = __builtin_fmaf(pv, vv[k], acc[k]);
            }
            for (int k = 0; k < U; k++)
                cr[b * U + k] = acc[k];
        }
    }
}

static void compute_core(const struct plan *p, uint32_t w, uint32_t P)
{
    const uint32_t units = p->group * p->ntiles;
    for (uint32_t kh = 0; kh < p->kv; kh++) {
        hetsim_barrier(); /* A */
        for (uint32_t u = 0, t = 0; u < units; u++) {
            const uint32_t n = tile_rows(p, t), b = u & 1;
            uint32_t lo, hi;
            split(n, w, P, &lo, &hi);
            hetsim_region_begin(REGION_TILES);
            if (lo < hi) {
                if (p->op == 0)
                    rows_scores(p, p->in[b], p->out[b], t * p->R, lo, hi);
                else
                    rows_context(p, p->in[b], p->out[b], lo, hi);
            }
            hetsim_region_end(REGION_TILES);
            hetsim_barrier();
            if (++t == p->ntiles)
                t = 0;
        }
        hetsim_barrier(); /* B */
    }
}

/* 0 if this core's share of the output equals attn_expected bit for bit, else 1 + the first
 * bad index. */
static uint32_t check_share(const struct plan *p, uint32_t w, uint32_t P)
{
    const uint32_t *out = (const uint32_t *)(p->op == 0 ? attn_S : attn_C);
    uint32_t lo, hi;
    split(p->seq * p->heads * p->ocols, w, P, &lo, &hi);
    for (uint32_t i = lo; i < hi; i++)
        if (out[i] != attn_expected[i])
            return i + 1;
    return 0;
}

int main(uint32_t hart, uint32_t ncores)
{
    const uint32_t op = *(volatile uint32_t *)&attn_op;
    if (op > 1) {
        if (hart == 0)
            hetsim_puts("attn_f32: attn_op must be 0 (scores) or 1 (context)\n");
        return ERR_KERNEL;
    }
    struct plan p;
    int err = make_plan(&p, op, ncores);
    if (err) {
        if (hart == 0) {
            static struct lora_plan lp;
            lp.tcdm_bytes = p.tcdm_bytes;
            if (!lora_report(err, &lp, ncores, &K))
                hetsim_puts("unsupported shape: head_dim <= 256 (a multiple of 8 for the "
                            "context), heads a multiple of kv_heads\n");
        }
        return err;
    }
    const uint32_t P = ncores - 1;
    if (hart == 0) {
        attn_used_rows = p.R;
        attn_used_tcdm = p.tcdm_bytes;
    }
    hetsim_region_begin(REGION_ATTN);
    if (hart == P)
        dma_core(&p);
    else
        compute_core(&p, hart, P);
    hetsim_region_end(REGION_ATTN);

    if (*(volatile uint32_t *)&attn_check == 0)
        return 0;
    uint32_t mine = hart < P ? check_share(&p, hart, P) : 0;
    return lora_check_reduce(attn_bad, mine, hart, P, p.heads * p.ocols, &K, "");
}
