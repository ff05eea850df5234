/* lora_f16_ssr - multi-core LoRA in FP16 with SSR + FREP + packed-SIMD FP16 on the cluster.
 *
 *   Y = XW + (X A) B      X: t x in, XW: t x out, A: in x r, B: r x out; all binary16.
 *
 * The fp16 sibling of lora.c (same chunking, double buffering and barrier protocol), written
 * the way gemm_f16_ssr.c writes its products. Needs extensions zfh, xfvec, xfrep and xssr (the
 * study preset models/presets/cluster-snitch-study.ron).
 *
 * L2 layouts (row-major, packed, binary16 little-endian), chosen so that both operands of
 * every dot product are contiguous along its reduction dimension:
 *   lora_f16_X   t x in     (reduction of phase 1 runs along in)
 *   lora_f16_XW  t x out
 *   lora_f16_At  r x in     A transposed: row k is column k of A
 *   lora_f16_Bt  out x r    B transposed: row j is column j of B (reduction of phase 2 along r)
 *   lora_f16_Y   t x out    (output)
 *
 * Numerics (exactly what the model's instructions do, round to nearest even: fcsr = 0):
 *   phase 1: h = +0.0 (fp32); for i2 = 0..in/2-1:
 *                h = vfdotpex.s.h(h, {X[tok][2i2], X[tok][2i2+1]}, {At[k][2i2], At[k][2i2+1]})
 *            (one rounding to fp32 per step), then H[tok][k] = fp16(h) (vfcpka.h.s)
 *   phase 2: y = fp32(XW[tok][j]) (vfcvt(u).s.h, exact); for k2 = 0..r/2-1:
 *                y = vfdotpex.s.h(y, {H[tok][2k2], H[tok][2k2+1]}, {Bt[j][2k2], Bt[j][2k2+1]})
 *            then Y[tok][j] = fp16(y) (vfcpka.h.s)
 *
 * Phase 1, one token on one core: ft0 streams X[tok] (1-D, in/2 words, each delivered r times),
 * ft1 streams At (2-D: the r rows inside, the in/2 words outside; rows padded by one word so
 * consecutive rows start in consecutive banks); one frep.o of (in/2)*r vfdotpex.s.h with rd
 * staggered over r accumulators f3.. (tokens dealt round-robin to the compute cores).
 * Phase 2, one block of 8 outputs of one token: ft2 streams the block's 4 XW words (each
 * delivered twice: vfcvt.s.h and vfcvtu.s.h initialise the 8 fp32 accumulators f3..f10), ft0
 * streams H[tok] (r/2 words, each delivered 8 times), ft1 the block's 8 Bt rows (2-D); one
 * frep.o of (r/2)*8 vfdotpex.s.h; output blocks split into contiguous ranges per core. When
 * out is not a multiple of 8, the XW/Y tiles in TCDM have a row pitch of out rounded up to 8
 * (2-D DMA) and Bt zero rows up to it: the padding columns are computed and never stored.
 * In both phases the previous unit's accumulators are packed (vfcpka.h.s into f19..f22) before
 * the next unit is issued and stored (fsw) after its FREP is handed to the sequencer, so the
 * FPU does not wait for the integer core between units.
 *
 * Limits: in even, 2 <= in <= 512; 1 <= out <= 512; r even, 2 <= r <= 8
 * (frep stagger covers at most 8 accumulators); 1 <= t <= 128.
 *
 * TCDM footprint (bytes, every buffer rounded up to 64), c = tokens per chunk:
 *   2*r*(in+2) + 2*po*r + 2*c*r + 2*(2*c*in) + 2*(2*c*po) <= TCDM_END - TCDM_BASE - N*1024
 * with po = out rounded up to a multiple of 8.
 * c = min(t, lora_f16_chunk (default 32; 0 = no limit), the largest c that fits).
 *
 * Self-check: when lora_f16_check != 0 the compute cores compare Y bit for bit with
 * lora_f16_expected (t x out binary16, bound by the host) after the kernel.
 *
 * Regions: 1 = whole kernel on every core, 2 = phase 1, 3 = phase 2 (compute cores, summed
 * over chunks). Exit codes: 0 pass (or no self-check), 1 self-check mismatch, 2 no compute core,
 * 3 a zero dimension, 4 shape beyond the L2 buffers, 5 does not fit in TCDM even at c = 1,
 * 6 unsupported shape (odd in or r). Each non-zero exit prints a
 * console line.
 */
#include <stdint.h>

#include "hetsim.h"
#include "snitch.h"
#include "lora_common.h"

#define ERR_UNSUPPORTED ERR_KERNEL

#define MAX_IN 512
#define MAX_OUT 512
#define MAX_R 8
#define MAX_T 128
#define U 8 /* outputs per phase-2 block */

/* Bound by name by the host (u32 / binary16 little-endian). The switches are zero by default
 * but must not be in .bss: hart 0 zeroes .bss at start-up, after the host has bound them. */
#define BOUND __attribute__((section(".data")))
struct lora_shape lora_f16_shape BOUND = {128, 128, 8, 16};
uint32_t lora_f16_check BOUND = 0;
uint32_t lora_f16_chunk BOUND = 32;
/* Batches of t tokens served by this run (persistent kernel, lora_common.h); default 1. */
uint32_t lora_f16_batches BOUND = 1;
/* ABI marker: this ELF is the binary16 SSR kernel with the lora_f16_* symbols (read by the
 * host, which refuses to run it as another kernel kind). */
const uint32_t lora_f16_ssr_abi = 1;
uint16_t lora_f16_X[MAX_T * MAX_IN] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t lora_f16_XW[MAX_T * MAX_OUT] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t lora_f16_At[MAX_R * MAX_IN] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t lora_f16_Bt[MAX_OUT * MAX_R] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t lora_f16_Y[MAX_T * MAX_OUT] __attribute__((section(".l2_noinit"), aligned(64)));
uint16_t lora_f16_expected[MAX_T * MAX_OUT] __attribute__((section(".l2_noinit"), aligned(64)));

/* Per-core self-check result (0 = good, else 1 + index of the first bad output). */
uint32_t lora_f16_bad[HETSIM_MAX_CORES];
/* Chunk size and TCDM bytes of the run (written by hart 0). */
uint32_t lora_f16_used_chunk;
uint32_t lora_f16_used_tcdm;

static const struct lora_kernel K = {"lora_f16_ssr", "lora_f16_shape", "1 compute + 1 DMA",
                                      "in, out <= 512, r <= 8, t <= 128", MAX_IN, MAX_OUT,
                                      MAX_R, MAX_T};

/* out rounded up to a whole number of phase-2 blocks: the XW/Y tiles' row pitch and Bt's
 * row count in TCDM */
static uint32_t padded_out(uint32_t out) { return (out + U - 1) / U * U; }

/* TCDM buffers (binary16): At r x pa (pa = in + 2: rows padded by one word), Bt po x r,
 * H c x r, X c x in, Y c x po. */
static struct lora_bufs bufs(const struct lora_plan *p, uint32_t c)
{
    return (struct lora_bufs){2 * p->r * p->pa, 2 * p->po * p->r, 2 * c * p->r, 2 * c * p->in,
                              2 * c * p->po};
}

/* Same on every core (pure function of the shape and the cluster). A is At, B is Bt. */
static int make_plan(struct lora_plan *p, uint32_t ncores)
{
    int err = lora_plan_shape(p, &lora_f16_shape, &lora_f16_batches, ncores, &K);
    if (err)
        return err;
    if (p->in % 2 || p->r % 2)
        return ERR_UNSUPPORTED;
    p->pa = p->in + 2;
    p->po = padded_out(p->out);
    return lora_plan_chunks(p, &lora_f16_chunk, 1, bufs);
}

/* ------------------------------------------------------------------------------------------ */
/* DMA core                                                                                     */

static void dma_core(const struct lora_plan *p)
{
    static const struct lora_io io = {lora_f16_X, lora_f16_XW, lora_f16_Y, 2, 2, 1};
    /* At rows into the padded pitch (in + 2 halves); Bt's rows out..po-1 stay zero (TCDM
     * starts zeroed and nothing else writes there) */
    hetsim_dma_2d(p->A, lora_f16_At, 2 * p->in, 2 * p->pa, 2 * p->in, p->r);
    hetsim_dma_1d(p->B, lora_f16_Bt, 2 * p->out * p->r);
    lora_dma_chunks(p, &io);
}

/* ------------------------------------------------------------------------------------------ */
/* Compute cores                                                                                */

#define CLOBBERS                                                                               \
    "memory", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f19", "f20", "f21", "f22"

/* Accumulators f3.. = +0.0 (f31 holds +0.0). */
#define INIT2 "fsgnj.s f3, f31, f31\n fsgnj.s f4, f31, f31\n"
#define INIT4 INIT2 "fsgnj.s f5, f31, f31\n fsgnj.s f6, f31, f31\n"
#define INIT6 INIT4 "fsgnj.s f7, f31, f31\n fsgnj.s f8, f31, f31\n"
#define INIT8 INIT6 "fsgnj.s f9, f31, f31\n fsgnj.s f10, f31, f31\n"
/* Pack accumulator pairs to fp16 into f19.. */
#define CPKA2 VFCPKA_H_S("f19", "f3", "f4")
#define CPKA4 CPKA2 VFCPKA_H_S("f20", "f5", "f6")
#define CPKA6 CPKA4 VFCPKA_H_S("f21", "f7", "f8")
#define CPKA8 CPKA6 VFCPKA_H_S("f22", "f9", "f10")
/* Store the packed words to %0. */
#define STORE2 "fsw f19, 0(%0)\n"
#define STORE4 STORE2 "fsw f20, 4(%0)\n"
#define STORE6 STORE4 "fsw f21, 8(%0)\n"
#define STORE8 STORE6 "fsw f22, 12(%0)\n"
/* Phase-2 accumulators from the XW stream (ft2 delivers each word twice). */
#define CONV8                                                                                  \
    VFCVT_S_H("f3", "ft2") VFCVTU_S_H("f4", "ft2") VFCVT_S_H("f5", "ft2")                     \
        VFCVTU_S_H("f6", "ft2") VFCVT_S_H("f7", "ft2") VFCVTU_S_H("f8", "ft2")                \
            VFCVT_S_H("f9", "ft2") VFCVTU_S_H("f10", "ft2")

/* Phase 1 for rank R (stagger_max R - 1 is an immediate): H[tok] for tok = w, w + P, ... < n. */
#define PHASE1(R, RM1)                                                                         \
    static void phase1_r##R(const struct lora_plan *p, const uint16_t *X, uint32_t n, uint32_t w,   \
                            uint32_t P)                                                        \
    {                                                                                          \
        const uint32_t reps = (p->in / 2) * R - 1;                                             \
        const uint32_t xstep = P * p->in, hstep = P * R;                                       \
        const uint32_t at = (uint32_t)(uintptr_t)p->A;                                         \
        const uint16_t *x = X + w * p->in;                                                     \
        uint16_t *h = (uint16_t *)p->H + w * R, *prev = 0;                                     \
        for (uint32_t tok = w; tok < n; tok += P, x += xstep, h += hstep) {                    \
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 0, (uint32_t)(uintptr_t)x);                     \
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, at);                                         \
            if (prev)                                                                          \
                __asm__ volatile(CPKA##R ::: CLOBBERS);                                        \
            __asm__ volatile(INIT##R FREP_O("%0", 1, RM1, 1) VFDOTPEX_S_H("f3", "ft0", "ft1")  \
                             ::"r"(reps)                                                       \
                             : CLOBBERS);                                                      \
            if (prev)                                                                          \
                __asm__ volatile(STORE##R ::"r"(prev) : CLOBBERS);                             \
            prev = h;                                                                          \
        }                                                                                      \
        if (prev) {                                                                            \
            __asm__ volatile(CPKA##R ::: CLOBBERS);                                            \
            __asm__ volatile(STORE##R ::"r"(prev) : CLOBBERS);                                 \
        }                                                                                      \
    }
PHASE1(2, 1)
PHASE1(4, 3)
PHASE1(6, 5)
PHASE1(8, 7)

static void phase1(const struct lora_plan *p, const uint16_t *X, uint32_t n, uint32_t w, uint32_t P)
{
    const uint32_t r = p->r, pa_bytes = 2 * p->pa;
    /* ft0: X[tok], in/2 words, each delivered r times */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 0, p->in / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 0, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 0, r - 1);
    /* ft1: At, the r rows inside, the in/2 words outside */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, r - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, pa_bytes);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, p->in / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, 4 - pa_bytes * (r - 1));
    __asm__ volatile("fmv.w.x f31, zero" ::: "f31");
    hetsim_ssr_enable();
    switch (r) {
    case 2:
        phase1_r2(p, X, n, w, P);
        break;
    case 4:
        phase1_r4(p, X, n, w, P);
        break;
    case 6:
        phase1_r6(p, X, n, w, P);
        break;
    default:
        phase1_r8(p, X, n, w, P);
        break;
    }
    hetsim_ssr_disable();
}

/* Y[tok][8jb .. 8jb+7] for jb in [jb0, jb1), all n tokens of the chunk, in place in the XW
 * tile (Y holds XW on entry; each block's XW words are streamed before its Y is stored). */
static void phase2(const struct lora_plan *p, uint16_t *Y, uint32_t n, uint32_t jb0, uint32_t jb1)
{
    const uint32_t r = p->r, out = p->po;
    if (jb0 >= jb1)
        return;
    /* ft0: H[tok], r/2 words, each delivered U times */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 0, r / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 0, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 0, U - 1);
    /* ft1: the block's U Bt rows inside (pitch 2r bytes), the r/2 words outside */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 1, U - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 1, 2 * r);
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(1), 1, r / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(1), 1, 4 - 2 * r * (U - 1));
    /* ft2: the block's U/2 XW words, each delivered twice */
    hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), 2, U / 2 - 1);
    hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), 2, 4);
    hetsim_ssr_cfg(HETSIM_SSR_REPEAT, 2, 1);
    hetsim_ssr_enable();
    const uint32_t reps = (r / 2) * U - 1;
    const uint32_t nb = jb1 - jb0, bt_step = U * r;
    const uint16_t *bt0 = (const uint16_t *)p->B + jb0 * U * r;
    uint16_t *row = Y + jb0 * U, *prev = 0;
    const uint16_t *h = p->H;
    for (uint32_t tok = 0; tok < n; tok++, h += r, row += out) {
        const uint16_t *bt = bt0;
        uint16_t *y = row;
        for (uint32_t b = 0; b < nb; b++, bt += bt_step, y += U) {
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 2, (uint32_t)(uintptr_t)y);
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), 0, (uint32_t)(uintptr_t)h);
            hetsim_ssr_cfg(HETSIM_SSR_RPTR(2), 1, (uint32_t)(uintptr_t)bt);
            if (prev)
                __asm__ volatile(CPKA8 ::: CLOBBERS);
            __asm__ volatile(CONV8 FREP_O("%0", 1, 7, 1) VFDOTPEX_S_H("f3", "ft0", "ft1")
                             ::"r"(reps)
                             : CLOBBERS);
            if (prev)
                __asm__ volatile(STORE8 ::"r"(prev) : CLOBBERS);
            prev = y;
        }
    }
    __asm__ volatile(CPKA8 ::: CLOBBERS);
    __asm__ volatile(STORE8 ::"r"(prev) : CLOBBERS);
    hetsim_ssr_disable();
}

static void compute_core(const struct lora_plan *p, uint32_t w, uint32_t P)
{
    uint32_t jb0, jb1;
    split(p->po / U, w, P, &jb0, &jb1);
    hetsim_barrier(); /* B0 */
    for (uint32_t q = 0, j = 0; q < p->nchunks; q++, j = lora_next_in_batch(p, j)) {
        uint32_t n = lora_chunk_tokens(p, j), b = q & 1;
        hetsim_region_begin(REGION_PHASE1);
        phase1(p, p->X[b], n, w, P);
        hetsim_region_end(REGION_PHASE1);
        hetsim_barrier(); /* B1 */
        hetsim_region_begin(REGION_PHASE2);
        phase2(p, p->Y[b], n, jb0, jb1);
        hetsim_region_end(REGION_PHASE2);
        hetsim_barrier(); /* B2 */
    }
    hetsim_barrier(); /* B3 */
}

/* ------------------------------------------------------------------------------------------ */

/* 0 if this core's output blocks of Y equal lora_f16_expected bit for bit, else 1 + index of
 * the first difference. */
static uint32_t check_columns(const struct lora_plan *p, uint32_t w, uint32_t P)
{
    uint32_t jb0, jb1;
    split(p->po / U, w, P, &jb0, &jb1);
    uint32_t j1 = jb1 * U < p->out ? jb1 * U : p->out;
    for (uint32_t tok = 0; tok < p->t; tok++) {
        for (uint32_t j = jb0 * U; j < j1; j++) {
            uint32_t i = tok * p->out + j;
            if (lora_f16_Y[i] != lora_f16_expected[i])
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
        if (hart == 0 && !lora_report(err, &p, ncores, &K)) /* ERR_UNSUPPORTED */
            hetsim_puts("unsupported shape: in and r must be even\n");
        return err;
    }
    const uint32_t P = ncores - 1;
    if (hart == 0) {
        lora_f16_used_chunk = p.c;
        lora_f16_used_tcdm = p.tcdm_bytes;
    }

    hetsim_region_begin(REGION_LORA);
    if (hart == P)
        dma_core(&p);
    else
        compute_core(&p, hart, P);
    hetsim_region_end(REGION_LORA);

    if (*(volatile uint32_t *)&lora_f16_check == 0)
        return 0;
    uint32_t mine = hart < P ? check_columns(&p, hart, P) : 0;
    return lora_check_reduce(lora_f16_bad, mine, hart, P, p.out, &K, "");
}
