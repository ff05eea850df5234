/* attn_f16 - attention scores S = (Q K^T) * scale per head, with an optional causal mask and
 * grouped-query heads, and the attention context C = P V per head (`attn_op` = 1), in binary16
 * with SSR + FREP + packed SIMD on the study cluster.
 *
 * `attn_op` (u32, bound by the host): 0 = scores (below), 1 = context (after the scores part).
 *
 * Descriptor `attn_desc` = {seq, seq_k, heads, kv_heads, head_dim, causal, scale_bits} (7 x u32,
 * bound by the host). Operands (row-major binary16 in L2, bound by name):
 *   attn_Q  seq x (heads * head_dim)        query head h is columns h*hd .. h*hd + hd - 1
 *   attn_K  seq_k x (kv_heads * head_dim)   key head kh likewise
 *   attn_S  seq x (heads * seq_k)           output: head h's scores are columns h*seq_k ..
 * Query head h reads key head h / (heads / kv_heads).
 *
 * Numerics (round to nearest even), for every i, h, j < seq_k, kh = h / (heads / kv_heads):
 *   acc = +0 (f32); for w = 0 .. hd/2 - 1:
 *       acc = vfdotpex.s.h(acc, {Q[i][h hd + 2w], Q[i][h hd + 2w + 1]},
 *                               {K[j][kh hd + 2w], K[j][kh hd + 2w + 1]})
 *   S[i][h seq_k + j] = fp16(acc * scale)   (fmul.s, then vfcpka.h.s)
 *   causal and j > i: S = -inf (0xfc00), written after the product.
 * sim/src/simulate/attn_kernel.rs reproduces it bit for bit.
 *
 * Schedule: per key head kh, the DMA core (the last hart) loads K_kh into TCDM (rows padded to
 * hd + 2 halves, so consecutive rows start in consecutive banks; rows seq_k .. pk - 1, pk =
 * seq_k rounded up to 8, stay zero), then double-buffers tiles of R query rows of each query
 * head of the group (rows padded likewise) and writes each finished tile of scores back (2-D
 * DMA into head h's columns). The compute cores split a tile's rows; per row and block of 8
 * keys: ft0 streams the query row (hd/2 words, each delivered 8 times), ft1 the 8 key rows
 * (2-D), one frep.o of (hd/2) * 8 vfdotpex.s.h staggered over 8 accumulators, then 8 fmul.s by
 * the scale, 4 vfcpka.h.s and 4 stores.
 *
 * Limits: head_dim even, 2 .. 256; heads a multiple of kv_heads; seq x heads x seq_k and the
 * operands within the L2 buffers; K_kh, two query tiles and two score tiles of at least one
 * row in TCDM.
 *
 * Context (`attn_op` = 1), the same descriptor (causal and scale_bits unused):
 *   attn_S  seq x (heads * seq_k)           input: head h's probabilities P_h
 *   attn_K  seq_k x (kv_heads * head_dim)   input: V, value head kh likewise
 *   attn_C  seq x (heads * head_dim)        output: head h's context is columns h*hd ..
 * Query head h reads value head h / (heads / kv_heads). Numerics, for every i, h, d < hd, with
 * pk = seq_k rounded up to 8 and P[i][h seq_k + j] = V[j][.] = 0 for j >= seq_k:
 *   acc = +0 (f32); for w = 0 .. pk/2 - 1:
 *       acc = vfdotpex.s.h(acc, {P[i][h sk + 2w], P[i][h sk + 2w + 1]},
 *                               {V[2w][kh hd + d], V[2w + 1][kh hd + d]})
 *   C[i][h hd + d] = fp16(acc)   (vfcpka.h.s)
 * Schedule: per value head kh, the DMA core loads V_kh (seq_k x hd) into a staging buffer and
 * the compute cores transpose it into Vt (hd rows of pk + 2 halves, keys seq_k .. pk - 1 zero),
 * split by features; then, as for the scores, the DMA core double-buffers tiles of R rows of
 * P_h (rows padded to pk + 2 halves) and writes each finished tile of C back, and per row and
 * block of 8 features: ft0 streams the P row (pk/2 words, each delivered 8 times), ft1 the 8 Vt
 * rows, one frep.o of (pk/2) * 8 vfdotpex.s.h over 8 accumulators, 4 vfcpka.h.s, 4 stores.
 * Limits: head_dim a multiple of 8, 8 .. 256; heads a multiple of kv_heads; P, V and C within
 * the L2 buffers; the staged V_kh, Vt, two P tiles and two C tiles of one row in TCDM.
 *
 * Exit codes: 0 pass, 1 self-check mismatch (attn_check, attn_expected: S, or C for the
 * context), 2 no compute core, 3 a zero dimension, 4 beyond the L2 buffers, 5 does not fit in
 * TCDM, 6 unsupported shape or operation.
 */
#include <stdint.h>

#include "hetsim.h"
#include "snitch.h"
#include "lora_common.h"

#define ATTN_MAX_IN (128 * 1024) /* elements of Q and of K */
#define ATTN_MAX_OUT (704 * 1024) /* elements of S */
#define U 8                        /* keys per block */
#define REGION_ATTN 1
#define REGION_TILES 2

struct attn_desc {
    uint32_t seq, seq_k, heads, kv_heads, head_dim, causal, scale_bits;
};

#define BOUND __attribute__((section(".data")))
#define L2BUF __attribute__((section(".l2_noinit"), aligned(64)))
struct attn_desc attn_desc BOUND = {64, 64, 4, 4, 32, 0, 0x3e3504f3 /* 1 / sqrt(32) */};
uint32_t attn_check BOUND = 0;
uint32_t attn_op BOUND = 0; /* 0 scores, 1 context */
/* ABI marker (read by the host): 2 = attn_op and attn_C exist. */
const uint32_t attn_f16_abi = 2;
uint16_t attn_Q[ATTN_MAX_IN] L2BUF;
uint16_t attn_K[ATTN_MAX_IN] L2BUF;
uint16_t attn_S[ATTN_MAX_OUT] L2BUF;
uint16_t attn_expected[ATTN_MAX_OUT] L2BUF;
uint16_t attn_C[ATTN_MAX_IN] L2BUF;

uint32_t attn_bad[HETSIM_MAX_CORES];
uint32_t attn_used_rows;
uint32_t attn_used_tcdm;

static const struct lora_kernel K = {"attn_f16", "attn_desc", "1 compute + 1 DMA",
                                     "Q, K, V, C <= 131072 elements, S, P <= 720896", 0, 0, 0, 0};

struct plan {
    uint32_t seq, sk, pk, heads, kv, hd, causal, group;
    uint32_t kp;           /* K and Q tile row pitch in halves: hd + 2 */
    uint32_t R, ntiles;    /* query rows per tile, tiles per head */
    uint32_t tcdm_bytes;
    uint32_t scale_bits;
    uint16_t *k;           /* K_kh: pk x kp */
    uint16_t *q[2], *s[2]; /* query tiles R x kp, score tiles R x pk */
};

static uint32_t tile_bytes(const struct plan *p, uint32_t R)
{
    return round64(2 * p->pk * p->kp) + 2 * round64(2 * R * p->kp) + 2 * round64(2 * R * p->pk);
}

static int make_plan(struct plan *p, uint32_t ncores)
{
    const volatile struct attn_desc *d = &attn_desc;
    p->seq = d->seq;
    p->sk = d->seq_k;
    p->heads = d->heads;
    p->kv = d->kv_heads;
    p->hd = d->head_dim;
    p->causal = d->causal;
    p->scale_bits = d->scale_bits;
    if (ncores < 2)
        return ERR_NO_COMPUTE_CORE;
    if (!p->seq || !p->sk || !p->heads || !p->kv || !p->hd)
        return ERR_ZERO_DIM;
    if (p->hd % 2 || p->hd > 256 || p->heads % p->kv)
        return ERR_KERNEL;
    if (p->seq > ATTN_MAX_IN / (p->heads * p->hd) || p->sk > ATTN_MAX_IN / (p->kv * p->hd) ||
        p->seq > ATTN_MAX_OUT / (p->heads * p->sk))
        return ERR_TOO_BIG;
    const uint32_t P = ncores - 1;
    p->group = p->heads / p->kv;
    p->pk = (p->sk + U - 1) / U * U;
    p->kp = p->hd + 2;
    uint32_t R = 4 * P;
    if (R > p->seq)
        R = p->seq;
    const uint32_t avail = lora_tcdm_free();
    while (R > 0 && tile_bytes(p, R) > avail)
        R--;
    p->tcdm_bytes = tile_bytes(p, R ? R : 1);
    if (R == 0)
        return ERR_TCDM;
    p->R = R;
    p->ntiles = (p->seq + R - 1) / R;
    uintptr_t a = align64((uintptr_t)__tcdm_data_end);
    p->k = (uint16_t *)a;
    a += round64(2 * p->pk * p->kp);
    for (int b = 0; b < 2; b++) {
        p->q[b] = (uint16_t *)a;
        a += round64(2 * R * p->kp);
        p->s[b] = (uint16_t *)a;
        a += round64(2 * R * p->pk);
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

/* Unit u of a key head's group: query head h = kh * group + u / ntiles, tile u % ntiles. */
static uint32_t load_q(const struct plan *p, uint32_t h, uint32_t t, uint32_t b)
{
    const uint16_t *src = attn_Q + t * p->R * p->heads * p->hd + h * p->hd;
    return hetsim_dma_2d(p->q[b], src, 2 * p->hd, 2 * p->kp, 2 * p->heads * p->hd,
                         tile_rows(p, t));
}

static uint32_t store_s(const struct plan *p, uint32_t h, uint32_t t, uint32_t b)
{
    uint16_t *dst = attn_S + t * p->R * p->heads * p->sk + h * p->sk;
    return hetsim_dma_2d(dst, p->s[b], 2 * p->sk, 2 * p->heads * p->sk, 2 * p->pk,
                         tile_rows(p, t));
}

static void dma_core(const struct plan *p)
{
    const uint32_t units = p->group * p->ntiles;
    for (uint32_t kh = 0; kh < p->kv; kh++) {
        hetsim_dma_2d(p->k, attn_K + kh * p->hd, 2 * p->hd, 2 * p->kp, 2 * p->kv * p->hd, p->sk);
        const uint32_t h0 = kh * p->group;
        hetsim_dma_wait(load_q(p, h0, 0, 0));
        hetsim_barrier(); /* A: K_kh and the first tile are in TCDM */
        uint32_t writeback = 0;
        for (uint32_t u = 0, h = h0, t = 0; u < units; u++) {
            uint32_t hn = h, tn = t + 1;
            if (tn == p->ntiles) {
                tn = 0;
                hn++;
            }
            if (u + 1 < units) {
                hetsim_dma_wait(writeback); /* buffer (u+1)%2 held unit u-1 */
                hetsim_dma_wait(load_q(p, hn, tn, (u + 1) & 1));
            }
            hetsim_barrier(); /* compute done with unit u, unit u+1 loaded */
            writeback = store_s(p, h, t, u & 1);
            h = hn;
            t = tn;
        }
        hetsim_dma_wait(writeback);
        hetsim_barrier(); /* B: every score of the group is in L2, K_kh may be replaced */
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Compute cores                                                                                */

#define CLOBBERS                                                                               \
    "memory", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f19", "f20", "f21", "f22", \
        "f31"

/* Scores of query rows [r0, r1) of a tile (global row i0 + r) against every key block. */
static void tile_rows_scores(const struct plan *p, const uint16_t *q, uint16_t *s, uint32_t i0,
                             uint32_t r0, uint32_t r1)
{
    const uint32_t kp_bytes = 2 * p->kp, words = p->hd / 2, blocks = p->pk / U;
    /* ft0: the query row, hd/2 words, each delivered U times */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 0, words - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 0, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 0, U - 1);
    /* ft1: the block's U key rows inside, the hd/2 words outside */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, kp_bytes);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, words - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, 4 - kp_bytes * (U - 1));
    __asm__ volatile("fmv.w.x f31, zero\n fmv.w.x f11, %0" ::"r"(p->scale_bits) : CLOBBERS);
    hetsim_ssr_enable();
    const uint32_t reps = words * U - 1;
    for (uint32_t r = r0; r < r1; r++) {
        const uint16_t *qr = q + r * p->kp;
        uint16_t *sr = s + r * p->pk;
        for (uint32_t b = 0; b < blocks; b++) {
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 0, (uint32_t)(uintptr_t)qr);
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, (uint32_t)(uintptr_t)(p->k + b * U * p->kp));
            __asm__ volatile(
                "fsgnj.s f3, f31, f31\n fsgnj.s f4, f31, f31\n fsgnj.s f5, f31, f31\n"
                "fsgnj.s f6, f31, f31\n fsgnj.s f7, f31, f31\n fsgnj.s f8, f31, f31\n"
                "fsgnj.s f9, f31, f31\n fsgnj.s f10, f31, f31\n" FREP_O("%0", 1, 7, 1)
                    VFDOTPEX_S_H("f3", "ft0", "ft1") "fmul.s f3, f3, f11\n fmul.s f4, f4, f11\n"
                "fmul.s f5, f5, f11\n fmul.s f6, f6, f11\n fmul.s f7, f7, f11\n"
                "fmul.s f8, f8, f11\n fmul.s f9, f9, f11\n fmul.s f10, f10, f11\n" VFCPKA_H_S(
                    "f19", "f3", "f4") VFCPKA_H_S("f20", "f5", "f6") VFCPKA_H_S("f21", "f7", "f8")
                    VFCPKA_H_S("f22", "f9", "f10") "fsw f19, 0(%1)\n fsw f20, 4(%1)\n"
                "fsw f21, 8(%1)\n fsw f22, 12(%1)\n" ::"r"(reps),
                "r"(sr + b * U)
                : CLOBBERS);
        }
    }
    hetsim_ssr_disable();
    if (p->causal) {
        for (uint32_t r = r0; r < r1; r++) {
            uint16_t *sr = s + r * p->pk;
            for (uint32_t j = i0 + r + 1; j < p->sk; j++)
                sr[j] = 0xfc00;
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
            if (lo < hi)
                tile_rows_scores(p, p->q[b], p->s[b], t * p->R, lo, hi);
            hetsim_region_end(REGION_TILES);
            hetsim_barrier();
            if (++t == p->ntiles)
                t = 0;
        }
        hetsim_barrier(); /* B */
    }
}

/* A refused shape's console report (`unsupported` for the kernel's own refusals). */
static void report(int err, uint32_t tcdm_bytes, uint32_t ncores, const char *unsupported)
{
    static struct lora_plan lp;
    lp.tcdm_bytes = tcdm_bytes;
    if (!lora_report(err, &lp, ncores, &K))
        hetsim_puts(unsupported);
}

/* ------------------------------------------------------------------------------------------ */
/* Context C = P V                                                                             */

struct cplan {
    uint32_t seq, sk, pk, heads, kv, hd, group;
    uint32_t vp;           /* Vt and P tile row pitch in halves: pk + 2 */
    uint32_t R, ntiles;    /* query rows per tile, tiles per head */
    uint32_t tcdm_bytes;
    uint16_t *vs, *vt;     /* V_kh staged (seq_k x hd), transposed (hd x vp) */
    uint16_t *p[2], *c[2]; /* P tiles R x vp, C tiles R x hd */
};

static uint32_t ctx_bytes(const struct cplan *p, uint32_t R)
{
    return round64(2 * p->sk * p->hd) + round64(2 * p->hd * p->vp) + 2 * round64(2 * R * p->vp) +
           2 * round64(2 * R * p->hd);
}

static int make_cplan(struct cplan *p, uint32_t ncores)
{
    const volatile struct attn_desc *d = &attn_desc;
    p->seq = d->seq;
    p->sk = d->seq_k;
    p->heads = d->heads;
    p->kv = d->kv_heads;
    p->hd = d->head_dim;
    p->tcdm_bytes = 0;
    if (ncores < 2)
        return ERR_NO_COMPUTE_CORE;
    if (!p->seq || !p->sk || !p->heads || !p->kv || !p->hd)
        return ERR_ZERO_DIM;
    if (p->hd % U || p->hd > 256 || p->heads % p->kv)
        return ERR_KERNEL;
    if (p->seq > ATTN_MAX_IN / (p->heads * p->hd) || p->sk > ATTN_MAX_IN / (p->kv * p->hd) ||
        p->seq > ATTN_MAX_OUT / (p->heads * p->sk))
        return ERR_TOO_BIG;
    const uint32_t P = ncores - 1;
    p->group = p->heads / p->kv;
    p->pk = (p->sk + U - 1) / U * U;
    p->vp = p->pk + 2;
    uint32_t R = 4 * P;
    if (R > p->seq)
        R = p->seq;
    const uint32_t avail = lora_tcdm_free();
    while (R > 0 && ctx_bytes(p, R) > avail)
        R--;
    p->tcdm_bytes = ctx_bytes(p, R ? R : 1);
    if (R == 0)
        return ERR_TCDM;
    p->R = R;
    p->ntiles = (p->seq + R - 1) / R;
    uintptr_t a = align64((uintptr_t)__tcdm_data_end);
    p->vs = (uint16_t *)a;
    a += round64(2 * p->sk * p->hd);
    p->vt = (uint16_t *)a;
    a += round64(2 * p->hd * p->vp);
    for (int b = 0; b < 2; b++) {
        p->p[b] = (uint16_t *)a;
        a += round64(2 * R * p->vp);
        p->c[b] = (uint16_t *)a;
        a += round64(2 * R * p->hd);
    }
    return 0;
}

static uint32_t ctile_rows(const struct cplan *p, uint32_t t)
{
    uint32_t left = p->seq - t * p->R;
    return left < p->R ? left : p->R;
}

static uint32_t load_p(const struct cplan *p, uint32_t h, uint32_t t, uint32_t b)
{
    const uint16_t *src = attn_S + t * p->R * p->heads * p->sk + h * p->sk;
    return hetsim_dma_2d(p->p[b], src, 2 * p->sk, 2 * p->vp, 2 * p->heads * p->sk,
                         ctile_rows(p, t));
}

static uint32_t store_c(const struct cplan *p, uint32_t h, uint32_t t, uint32_t b)
{
    uint16_t *dst = attn_C + t * p->R * p->heads * p->hd + h * p->hd;
    return hetsim_dma_2d(dst, p->c[b], 2 * p->hd, 2 * p->heads * p->hd, 2 * p->hd,
                         ctile_rows(p, t));
}

static void ctx_dma_core(const struct cplan *p)
{
    const uint32_t units = p->group * p->ntiles;
    for (uint32_t kh = 0; kh < p->kv; kh++) {
        hetsim_dma_2d(p->vs, attn_K + kh * p->hd, 2 * p->hd, 2 * p->hd, 2 * p->kv * p->hd, p->sk);
        const uint32_t h0 = kh * p->group;
        hetsim_dma_wait(load_p(p, h0, 0, 0));
        hetsim_barrier(); /* A: V_kh staged, the first tile in TCDM */
        hetsim_barrier(); /* T: Vt written */
        uint32_t writeback = 0;
        for (uint32_t u = 0, h = h0, t = 0; u < units; u++) {
            uint32_t hn = h, tn = t + 1;
            if (tn == p->ntiles) {
                tn = 0;
                hn++;
            }
            if (u + 1 < units) {
                hetsim_dma_wait(writeback); /* buffer (u+1)%2 held unit u-1 */
                hetsim_dma_wait(load_p(p, hn, tn, (u + 1) & 1));
            }
            hetsim_barrier(); /* compute done with unit u, unit u+1 loaded */
            writeback = store_c(p, h, t, u & 1);
            h = hn;
            t = tn;
        }
        hetsim_dma_wait(writeback);
        hetsim_barrier(); /* B: every context row of the group is in L2, V_kh may be replaced */
    }
}

/* Vt[d][j] = Vs[j][d] for features [d0, d1), two keys per 32-bit store (seq_k odd: the last
 * key alone, its partner stays zero). */
static void transpose_v(const struct cplan *p, uint32_t d0, uint32_t d1)
{
    const uint32_t hd = p->hd, pairs = p->sk / 2;
    for (uint32_t d = d0; d < d1; d++) {
        const uint16_t *src = p->vs + d;
        uint32_t *dst = (uint32_t *)(p->vt + d * p->vp);
        for (uint32_t w = 0; w < pairs; w++) {
            uint32_t lo = src[0], hi = src[hd];
            dst[w] = lo | hi << 16;
            src += 2 * hd;
        }
        if (p->sk & 1)
            p->vt[d * p->vp + p->sk - 1] = *src;
    }
}

/* Context rows [r0, r1) of a tile: per row and block of 8 features, the 8 dot products of the
 * P row with 8 Vt rows. */
static void tile_rows_context(const struct cplan *p, const uint16_t *pt, uint16_t *ct,
                              uint32_t r0, uint32_t r1)
{
    const uint32_t vp_bytes = 2 * p->vp, words = p->pk / 2, blocks = p->hd / U;
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 0, words - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 0, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 0, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, vp_bytes);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, words - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, 4 - vp_bytes * (U - 1));
    __asm__ volatile("fmv.w.x f31, zero" ::: CLOBBERS);
    hetsim_ssr_enable();
    const uint32_t reps = words * U - 1;
    for (uint32_t r = r0; r < r1; r++) {
        const uint16_t *pr = pt + r * p->vp;
        uint16_t *cr = ct + r * p->hd;
        for (uint32_t b = 0; b < blocks; b++) {
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 0, (uint32_t)(uintptr_t)pr);
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, (uint32_t)(uintptr_t)(p->vt + b * U * p->vp));
            __asm__ volatile(
                "fsgnj.s f3, f31, f31\n fsgnj.s f4, f31, f31\n fsgnj.s f5, f31, f31\n"
                "fsgnj.s f6, f31, f31\n fsgnj.s f7, f31, f31\n fsgnj.s f8, f31, f31\n"
                "fsgnj.s f9, f31, f31\n fsgnj.s f10, f31, f31\n" FREP_O("%0", 1, 7, 1)
                    VFDOTPEX_S_H("f3", "ft0", "ft1") VFCPKA_H_S("f19", "f3", "f4")
                        VFCPKA_H_S("f20", "f5", "f6") VFCPKA_H_S("f21", "f7", "f8")
                            VFCPKA_H_S("f22", "f9", "f10") "fsw f19, 0(%1)\n fsw f20, 4(%1)\n"
                "fsw f21, 8(%1)\n fsw f22, 12(%1)\n" ::"r"(reps),
                "r"(cr + b * U)
                : CLOBBERS);
        }
    }
    hetsim_ssr_disable();
}

static void ctx_compute_core(const struct cplan *p, uint32_t w, uint32_t P)
{
    const uint32_t units = p->group * p->ntiles;
    for (uint32_t kh = 0; kh < p->kv; kh++) {
        hetsim_barrier(); /* A */
        uint32_t lo, hi;
        split(p->hd, w, P, &lo, &hi);
        transpose_v(p, lo, hi);
        hetsim_barrier(); /* T */
        for (uint32_t u = 0, t = 0; u < units; u++) {
            const uint32_t n = ctile_rows(p, t), b = u & 1;
            split(n, w, P, &lo, &hi);
            hetsim_region_begin(REGION_TILES);
            if (lo < hi)
                tile_rows_context(p, p->p[b], p->c[b], lo, hi);
            hetsim_region_end(REGION_TILES);
            hetsim_barrier();
            if (++t == p->ntiles)
                t = 0;
        }
        hetsim_barrier(); /* B */
    }
}

static uint32_t check_c_share(const struct cplan *p, uint32_t w, uint32_t P)
{
    uint32_t lo, hi;
    split(p->seq * p->heads * p->hd, w, P, &lo, &hi);
    for (uint32_t i = lo; i < hi; i++)
        if (attn_C[i] != attn_expected[i])
            return i + 1;
    return 0;
}

static int context_main(uint32_t hart, uint32_t ncores)
{
    struct cplan p;
    int err = make_cplan(&p, ncores);
    if (err) {
        if (hart == 0)
            report(err, p.tcdm_bytes, ncores,
                   "unsupported context shape: head_dim a multiple of 8 and <= 256, heads a "
                   "multiple of kv_heads\n");
        return err;
    }
    const uint32_t P = ncores - 1;
    if (hart == 0) {
        attn_used_rows = p.R;
        attn_used_tcdm = p.tcdm_bytes;
    }
    hetsim_region_begin(REGION_ATTN);
    if (hart == P)
        ctx_dma_core(&p);
    else
        ctx_compute_core(&p, hart, P);
    hetsim_region_end(REGION_ATTN);

    if (*(volatile uint32_t *)&attn_check == 0)
        return 0;
    uint32_t mine = hart < P ? check_c_share(&p, hart, P) : 0;
    return lora_check_reduce(attn_bad, mine, hart, P, p.heads * p.hd, &K, "");
}

static uint32_t check_share(const struct plan *p, uint32_t w, uint32_t P)
{
    uint32_t lo, hi;
    split(p->seq * p->heads * p->sk, w, P, &lo, &hi);
    for (uint32_t i = lo; i < hi; i++)
        if (attn_S[i] != attn_expected[i])
            return i + 1;
    return 0;
}

int main(uint32_t hart, uint32_t ncores)
{
    const uint32_t op = *(volatile uint32_t *)&attn_op;
    if (op == 1)
        return context_main(hart, ncores);
    if (op != 0) {
        if (hart == 0)
            hetsim_puts("attn_f16: attn_op must be 0 (scores) or 1 (context)\n");
        return ERR_KERNEL;
    }
    struct plan p;
    int err = make_plan(&p, ncores);
    if (err) {
        if (hart == 0)
            report(err, p.tcdm_bytes, ncores,
                   "unsupported shape: head_dim even and <= 256, heads a multiple of "
                   "kv_heads\n");
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
    return lora_check_reduce(attn_bad, mine, hart, P, p.heads * p.sk, &K, "");
}
