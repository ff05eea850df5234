/* lora_common.h - what the LoRA cluster kernels (lora.c, lora_redmule.c, lora_f16_ssr.c) share:
 * the shape ABI, exit codes and region ids, the TCDM plan (chunk choice and buffer layout), the
 * DMA core's double-buffered chunk schedule, the console report of a refused shape and the
 * self-check reduction. Each kernel keeps its symbols, its buffer sizes, its compute code and
 * its own checks; docs/kernels.md describes the kernels.
 *
 * Include after hetsim.h (or, for lora.c on the host, tools/host/hetsim.h): this header does
 * not include it, so the host build picks its own HAL.
 *
 * The plan (a pure function of the shape, the chunk switch and the cluster, so every core
 * computes the same one): Y = XW + (X A) B for t tokens, in chunks of c tokens. TCDM holds,
 * from the first 64-byte boundary after the static .tcdm data, each buffer rounded up to 64
 * bytes:
 *   A, B, H (c x r), then X[0], Y[0], X[1], Y[1]   (X: c x in, Y: c x po, Y holds XW on entry)
 * with the sizes the kernel's `bufs` function gives. po is the Y tiles' row pitch in elements:
 * out, unless the kernel pads it (lora_f16_ssr).
 *
 * Barrier protocol (every core makes the same calls): B0 once A, B and chunk 0 are in TCDM;
 * per chunk, `phases` barriers (1 or 2) ending with "compute done with chunk q, chunk q+1
 * loaded"; a last one once every Y is in L2.
 *
 * Persistent runs: the kernel serves nb batches of t tokens in one run (the batches symbol,
 * default 1), as a deployed cluster does for one layer: boot, A and B loaded once and resident,
 * a warm I-cache, and the DMA of the next batch's X and XW overlapped with the current batch's
 * compute. Each batch is ceil(t / c) chunks (chunks never straddle two batches); every batch
 * reads the same bound X and XW (L2 holds one batch: the timing does not depend on the data)
 * and writes its Y to the same lora_Y. The DMA core marks batch b (b < LORA_MARKED_BATCHES)
 * as region REGION_BATCH0 + b, from the barrier that ends batch b-1 (B0 for b = 0) to the one
 * that ends batch b: consecutive regions tile the run, so a steady-state batch's region is the
 * per-batch period and the rest of the run (boot, A and B, the first chunk's load, the final
 * write-back) is the once-per-layer start-up.
 */
#ifndef LORA_COMMON_H
#define LORA_COMMON_H

#include <stdint.h>

/* Region ids: 1 = the whole kernel on every core, 2 and 3 = the two products (per chunk). */
#define REGION_LORA 1
#define REGION_PHASE1 2
#define REGION_PHASE2 3
/* Region of batch b on the DMA core: REGION_BATCH0 + b, for b < LORA_MARKED_BATCHES. */
#define REGION_BATCH0 16
#define LORA_MARKED_BATCHES 8
/* Most batches one persistent run serves. */
#define LORA_MAX_BATCHES 4096

/* Exit codes shared by the kernels; codes from ERR_KERNEL on are the kernel's own. */
#define ERR_MISMATCH 1
#define ERR_NO_COMPUTE_CORE 2
#define ERR_ZERO_DIM 3
#define ERR_TOO_BIG 4
#define ERR_TCDM 5
#define ERR_KERNEL 6

/* The shape symbol's layout (bound by name by the host, 4 x u32 little-endian). */
struct lora_shape {
    uint32_t in, out, r, t;
};

/* Static limits of a kernel (its L2 buffers) and the words of its console messages. */
struct lora_kernel {
    const char *name;      /* console prefix, e.g. "lora" */
    const char *shape_sym; /* the shape symbol's name, e.g. "lora_shape" */
    const char *cores;     /* what the two cores at least are, e.g. "1 compute + 1 DMA" */
    const char *limits;    /* e.g. "in, out <= 512, r <= 16, t <= 128" (must match max_*) */
    uint32_t max_in, max_out, max_r, max_t;
};

/* ---------------------------------------------------------------------------------------------
 * TCDM plan
 * ------------------------------------------------------------------------------------------- */

static inline uint32_t round64(uint32_t bytes) { return (bytes + 63u) & ~63u; }
static inline uintptr_t align64(uintptr_t a) { return (a + 63u) & ~(uintptr_t)63u; }

/* Free TCDM bytes for dynamic data: from the end of .tcdm to below the stacks. */
static inline uint32_t lora_tcdm_free(void)
{
    uintptr_t base = align64((uintptr_t)__tcdm_data_end);
    uintptr_t end = hetsim_tcdm_free_end();
    return end > base ? (uint32_t)(end - base) : 0;
}

struct lora_plan {
    uint32_t in, out, r, t;   /* the shape (t: tokens per batch) */
    uint32_t nb;              /* batches served by this run (persistent kernel), >= 1 */
    uint32_t c, cpb, nchunks; /* tokens per chunk (a batch's last chunk may be shorter), chunks
                                 per batch, chunks of the run (nb * cpb) */
    uint32_t tcdm_bytes;      /* TCDM the plan needs (at c = 1 when even that does not fit) */
    uint32_t pa, po;          /* row pitches in elements: A's (kernel-defined), the Y tiles' */
    void *A, *B, *H;          /* TCDM buffers (element type: the kernel's) */
    void *X[2], *Y[2];        /* per chunk parity: X and the XW tile Y is computed in */
};

/* Unrounded bytes of one of each TCDM buffer for c tokens per chunk. */
struct lora_bufs {
    uint32_t a, b, h, x, y;
};
typedef struct lora_bufs (*lora_bufs_fn)(const struct lora_plan *p, uint32_t c);

static inline uint32_t lora_tcdm_bytes(lora_bufs_fn bufs, const struct lora_plan *p, uint32_t c)
{
    struct lora_bufs s = bufs(p, c);
    return round64(s.a) + round64(s.b) + round64(s.h) + 2 * round64(s.x) + 2 * round64(s.y);
}

/* Reads the shape and the batch count (volatile: the host binds them) into p and checks the
 * core count, the dimensions and the static limits. Sets pa = in and po = out (a kernel may
 * change them). */
static inline int lora_plan_shape(struct lora_plan *p, const struct lora_shape *shape,
                                  const uint32_t *batches, uint32_t ncores,
                                  const struct lora_kernel *k)
{
    const volatile struct lora_shape *s = shape;
    p->in = s->in;
    p->out = s->out;
    p->r = s->r;
    p->t = s->t;
    p->nb = *(const volatile uint32_t *)batches;
    p->tcdm_bytes = 0;
    p->pa = p->in;
    p->po = p->out;
    if (ncores < 2)
        return ERR_NO_COMPUTE_CORE;
    if (p->in == 0 || p->out == 0 || p->r == 0 || p->t == 0 || p->nb == 0)
        return ERR_ZERO_DIM;
    if (p->in > k->max_in || p->out > k->max_out || p->r > k->max_r || p->t > k->max_t ||
        p->nb > LORA_MAX_BATCHES)
        return ERR_TOO_BIG;
    return 0;
}

/* Chooses c = min(t, *chunk (0 = no limit), the largest c that fits in the free TCDM) - when
 * the TCDM limits c and row_tile > 1, c above row_tile is rounded down to a multiple of it -
 * and lays the buffers out. ERR_TCDM (with tcdm_bytes at c = 1) when not even c = 1 fits. */
static inline int lora_plan_chunks(struct lora_plan *p, const uint32_t *chunk, uint32_t row_tile,
                                   lora_bufs_fn bufs)
{
    uint32_t avail = lora_tcdm_free();
    uint32_t c = *(const volatile uint32_t *)chunk;
    if (c == 0 || c > p->t)
        c = p->t;
    uint32_t want = c;
    while (c > 0 && lora_tcdm_bytes(bufs, p, c) > avail)
        c--;
    if (row_tile > 1 && c < want && c > row_tile)
        c -= c % row_tile;
    p->tcdm_bytes = lora_tcdm_bytes(bufs, p, c ? c : 1);
    if (c == 0)
        return ERR_TCDM;
    p->c = c;
    p->cpb = (p->t + c - 1) / c;
    p->nchunks = p->nb * p->cpb;

    struct lora_bufs s = bufs(p, c);
    uintptr_t a = align64((uintptr_t)__tcdm_data_end);
    p->A = (void *)a;
    a += round64(s.a);
    p->B = (void *)a;
    a += round64(s.b);
    p->H = (void *)a;
    a += round64(s.h);
    for (int b = 0; b < 2; b++) {
        p->X[b] = (void *)a;
        a += round64(s.x);
        p->Y[b] = (void *)a;
        a += round64(s.y);
    }
    return 0;
}

/* Chunks are numbered q over the run (q % 2 is the buffer) and j within their batch. Loops
 * keep j with lora_next_in_batch instead of computing q % cpb: the cluster's divider is shared
 * by every core and slow. */

/* j of the chunk after chunk j of a batch. */
static inline uint32_t lora_next_in_batch(const struct lora_plan *p, uint32_t j)
{
    return j + 1 == p->cpb ? 0 : j + 1;
}

/* Whether chunk j of a batch is its last. */
static inline int lora_chunk_ends_batch(const struct lora_plan *p, uint32_t j)
{
    return j + 1 == p->cpb;
}

/* Tokens in chunk j of a batch. */
static inline uint32_t lora_chunk_tokens(const struct lora_plan *p, uint32_t j)
{
    uint32_t left = p->t - j * p->c;
    return left < p->c ? left : p->c;
}

/* ---------------------------------------------------------------------------------------------
 * Work split
 * ------------------------------------------------------------------------------------------- */

/* Hides a value from the optimiser, so a precomputed quotient is not recomputed in a loop. */
static inline uint32_t opaque(uint32_t v)
{
    __asm__("" : "+r"(v));
    return v;
}

/* Core w's share [*lo, *hi) of n items over P cores: the first n % P cores get one more.
 * One division (the MUL/DIV unit is shared by the cluster). */
static inline void split(uint32_t n, uint32_t w, uint32_t P, uint32_t *lo, uint32_t *hi)
{
    uint32_t q = opaque(n / P), rem = n - q * P;
    *lo = w * q + (w < rem ? w : rem);
    *hi = *lo + q + (w < rem);
}

/* ---------------------------------------------------------------------------------------------
 * DMA core: the chunk schedule
 * ------------------------------------------------------------------------------------------- */

/* The L2 side of the chunk transfers. */
struct lora_io {
    const void *x, *xw; /* t x in and t x out, row-major, packed */
    void *y;            /* t x out */
    uint32_t esize;     /* bytes per element */
    uint32_t phases;    /* barriers per chunk on the compute side: 1 or 2 */
    int padded;         /* the Y tiles may have a pitch po > out (2-D transfers then) */
};

/* Chunk q (j within its batch): X and XW into buffer q % 2; returns the id of the last
 * transfer. */
static inline uint32_t lora_load_chunk(const struct lora_plan *p, const struct lora_io *io,
                                       uint32_t q, uint32_t j)
{
    const uint32_t e = io->esize;
    uint32_t tok0 = j * p->c, n = lora_chunk_tokens(p, j), b = q & 1;
    hetsim_dma_1d(p->X[b], (const char *)io->x + tok0 * p->in * e, e * n * p->in);
    const char *xw = (const char *)io->xw + tok0 * p->out * e;
    if (!io->padded || p->po == p->out)
        return hetsim_dma_1d(p->Y[b], xw, e * n * p->out);
    /* rows of out elements into the padded pitch */
    return hetsim_dma_2d(p->Y[b], xw, e * p->out, e * p->po, e * p->out, n);
}

/* Chunk q (j within its batch): Y from buffer q % 2 to L2; returns the transfer's id. */
static inline uint32_t lora_store_chunk(const struct lora_plan *p, const struct lora_io *io,
                                        uint32_t q, uint32_t j)
{
    const uint32_t e = io->esize;
    char *dst = (char *)io->y + j * p->c * p->out * e;
    uint32_t n = lora_chunk_tokens(p, j);
    if (!io->padded || p->po == p->out)
        return hetsim_dma_1d(dst, p->Y[q & 1], e * n * p->out);
    return hetsim_dma_2d(dst, p->Y[q & 1], e * p->out, e * p->out, e * p->po, n);
}

/* The DMA core after it has queued A and B: chunk 0, B0, the double-buffered chunks, the last
 * barrier. While the compute side works on chunk q, chunk q+1 is loaded into buffer (q+1)%2
 * once chunk q-1's Y has left it; chunk q's Y goes back once the compute side is done. Marks
 * the first LORA_MARKED_BATCHES batches as regions (see the top of this file). */
static inline void lora_dma_chunks(const struct lora_plan *p, const struct lora_io *io)
{
    hetsim_dma_wait(lora_load_chunk(p, io, 0, 0));
    hetsim_barrier(); /* B0: A, B and chunk 0 are in TCDM */
    hetsim_region_begin(REGION_BATCH0);

    uint32_t writeback = 0; /* id of the last Y transfer (0 = none) */
    uint32_t batch = 0, j = 0;
    for (uint32_t q = 0; q < p->nchunks; q++) {
        uint32_t jn = lora_next_in_batch(p, j);
        uint32_t next = 0;
        if (q + 1 < p->nchunks) {
            /* buffer (q+1)%2 held chunk q-1: its Y must have left before it is refilled */
            hetsim_dma_wait(writeback);
            next = lora_load_chunk(p, io, q + 1, jn);
            if (io->phases == 1)
                hetsim_dma_wait(next);
        }
        if (io->phases == 2) {
            hetsim_barrier(); /* B1: phase 1 of chunk q done */
            hetsim_dma_wait(next);
        }
        hetsim_barrier(); /* compute done with chunk q, chunk q+1 loaded */
        if (lora_chunk_ends_batch(p, j) && batch < LORA_MARKED_BATCHES) {
            hetsim_region_end(REGION_BATCH0 + batch);
            if (batch + 1 < p->nb && batch + 1 < LORA_MARKED_BATCHES)
                hetsim_region_begin(REGION_BATCH0 + batch + 1);
        }
        batch += lora_chunk_ends_batch(p, j);
        writeback = lora_store_chunk(p, io, q, j);
        j = jn;
    }
    hetsim_dma_wait(writeback);
    hetsim_barrier(); /* every Y is in L2 */
}

/* ---------------------------------------------------------------------------------------------
 * Console and self-check
 * ------------------------------------------------------------------------------------------- */

/* The console line of a plan error (codes 2..5); other codes print the prefix only, for the
 * kernel to finish the line. Returns 1 when it printed a whole line. */
static inline int lora_report(int err, const struct lora_plan *p, uint32_t ncores,
                              const struct lora_kernel *k)
{
    hetsim_puts(k->name);
    hetsim_puts(": ");
    switch (err) {
    case ERR_NO_COMPUTE_CORE:
        hetsim_puts("needs at least 2 cores (");
        hetsim_puts(k->cores);
        hetsim_puts("), have ");
        hetsim_putu(ncores);
        break;
    case ERR_ZERO_DIM:
        hetsim_puts(k->shape_sym);
        hetsim_puts(" has a zero dimension");
        break;
    case ERR_TOO_BIG:
        hetsim_puts("shape exceeds the L2 buffers (");
        hetsim_puts(k->limits);
        hetsim_putchar(')');
        break;
    case ERR_TCDM:
        hetsim_puts("shape does not fit in TCDM: needs ");
        hetsim_putu(p->tcdm_bytes);
        hetsim_puts(" bytes with 1 token per chunk, free ");
        hetsim_putu(lora_tcdm_free());
        break;
    default:
        return 0;
    }
    hetsim_putchar('\n');
    return 1;
}

/* Self-check reduction, on every core after the kernel's last barrier: `mine` is this core's
 * result (0 = good, else 1 + index of its first bad output), stored in bad[hart]; one more
 * barrier; hart 0 takes the smallest and prints it as Y[tok][j] followed by `hint`. Returns
 * ERR_MISMATCH on hart 0 when an output was bad, else 0. */
static inline int lora_check_reduce(uint32_t *bad, uint32_t mine, uint32_t hart, uint32_t P,
                                    uint32_t out, const struct lora_kernel *k, const char *hint)
{
    bad[hart] = mine;
    hetsim_barrier();
    if (hart != 0)
        return 0;
    uint32_t first = 0;
    for (uint32_t i = 0; i < P; i++) {
        uint32_t b = ((volatile uint32_t *)bad)[i];
        if (b && (first == 0 || b < first))
            first = b;
    }
    if (first) {
        hetsim_puts(k->name);
        hetsim_puts(": self-check failed at Y[");
        hetsim_putu((first - 1) / out);
        hetsim_puts("][");
        hetsim_putu((first - 1) % out);
        hetsim_puts("]");
        hetsim_puts(hint);
        hetsim_putchar('\n');
        return ERR_MISMATCH;
    }
    return 0;
}

#endif /* LORA_COMMON_H */
