/* Host harness for cluster kernels (make check-host): runs lora.c (its main renamed
 * kernel_main) on N threads.
 *
 *   lora-host N                      default shape and data: the kernel's own self-check
 *   lora-host N IN OUT R T [CHUNK [TCDM_BYTES]]
 *                                    random data of that shape (lora_check = 0), Y compared
 *                                    with a double-precision reference (|y - ref| <= 1e-5 *
 *                                    scale, scale as in gen_lora_data.py)
 *
 * Exit status: hart 0's return value (the kernel's exit code), or 1 for a reference mismatch.
 * A deadlock (a hart left waiting at a barrier) is caught by a 20 s alarm.
 */
#undef main /* -Dmain=kernel_main is for lora.c */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hetsim.h"

int kernel_main(uint32_t hart, uint32_t ncores);

struct lora_shape {
    uint32_t in, out, r, t;
};
extern struct lora_shape lora_shape;
extern uint32_t lora_check, lora_chunk;
extern float lora_X[], lora_XW[], lora_A[], lora_B[], lora_Y[];

/* ---- cluster ---- */
static uint32_t ncores;
static uint32_t tcdm_size = 128 * 1024;
_Alignas(64) char host_tcdm[1 << 20];
static pthread_barrier_t barrier;

uint32_t host_num_cores(void) { return ncores; }
uintptr_t host_tcdm_free_end(void)
{
    return (uintptr_t)host_tcdm + tcdm_size - ncores * HETSIM_STACK_PER_HART;
}
void host_barrier(void) { pthread_barrier_wait(&barrier); }
void host_putchar(char c) { putchar(c); }

/* ---- DMA: a FIFO served by one worker thread, each transfer after a random delay ---- */
struct xfer {
    char *dst;
    const char *src;
    uint32_t size, dst_stride, src_stride, reps;
};
#define QLEN 1024
static struct xfer queue[QLEN];
static uint32_t queued;              /* transfers queued (ids 1..queued) */
static _Atomic uint32_t done_id;     /* last completed id */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static int dma_stop;

/* A TCDM range must stay below the stacks; anything else is an L2 global. */
static void check_range(const void *p, uint32_t n)
{
    const char *c = p;
    if (c >= host_tcdm && c < host_tcdm + sizeof host_tcdm &&
        (c + n > (const char *)host_tcdm_free_end())) {
        fprintf(stderr, "host: DMA range %p+%u reaches the stacks or past TCDM\n", p, n);
        exit(90);
    }
}

uint32_t host_dma_2d(void *dst, const void *src, uint32_t size, uint32_t dst_stride,
                     uint32_t src_stride, uint32_t reps)
{
    if (reps == 0)
        reps = 1;
    for (uint32_t r = 0; r < reps; r++) {
        check_range((char *)dst + r * dst_stride, size);
        check_range((const char *)src + r * src_stride, size);
    }
    pthread_mutex_lock(&qlock);
    if (queued - atomic_load(&done_id) >= QLEN) {
        fprintf(stderr, "host: DMA queue overflow\n");
        exit(91);
    }
    queue[queued % QLEN] = (struct xfer){dst, src, size, dst_stride, src_stride, reps};
    uint32_t id = ++queued;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
    return id;
}

void host_dma_wait(uint32_t id)
{
    while (atomic_load_explicit(&done_id, memory_order_acquire) < id)
        sched_yield();
}

static void *dma_worker(void *arg)
{
    unsigned seed = 12345;
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (atomic_load(&done_id) == queued && !dma_stop)
            pthread_cond_wait(&qcond, &qlock);
        if (atomic_load(&done_id) == queued && dma_stop) {
            pthread_mutex_unlock(&qlock);
            return NULL;
        }
        struct xfer x = queue[atomic_load(&done_id) % QLEN];
        pthread_mutex_unlock(&qlock);
        usleep(rand_r(&seed) % 300);
        for (uint32_t r = 0; r < x.reps; r++)
            memcpy(x.dst + r * x.dst_stride, x.src + r * x.src_stride, x.size);
        atomic_fetch_add_explicit(&done_id, 1, memory_order_release);
    }
}

/* ---- harts ---- */
static int results[HETSIM_MAX_CORES];
static void *hart(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    /* a little skew so cores do not run in lock-step */
    usleep(id * 37);
    results[id] = kernel_main(id, ncores);
    return NULL;
}

static uint32_t lcg = 0xC0FFEE;
static float rnd(float scale)
{
    lcg = lcg * 1664525u + 1013904223u;
    return ((float)(int32_t)((lcg >> 8) - (1u << 23)) / (float)(1u << 23)) * scale;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [IN OUT R T [CHUNK [TCDM_BYTES]]]\n", argv[0]);
        return 2;
    }
    ncores = (uint32_t)atoi(argv[1]);
    if (ncores < 1 || ncores > HETSIM_MAX_CORES)
        return 2;
    int custom = argc >= 6;
    uint32_t in = 0, out = 0, r = 0, t = 0;
    if (custom) {
        in = (uint32_t)atoi(argv[2]);
        out = (uint32_t)atoi(argv[3]);
        r = (uint32_t)atoi(argv[4]);
        t = (uint32_t)atoi(argv[5]);
        if (argc >= 7)
            lora_chunk = (uint32_t)atoi(argv[6]);
        if (argc >= 8)
            tcdm_size = (uint32_t)atoi(argv[7]);
        lora_shape = (struct lora_shape){in, out, r, t};
        lora_check = 0;
        if (in && out && r && t && in <= 512 && out <= 512 && r <= 16 && t <= 128) {
            for (uint32_t i = 0; i < t * in; i++) lora_X[i] = rnd(1.0f);
            for (uint32_t i = 0; i < t * out; i++) lora_XW[i] = rnd(1.0f);
            for (uint32_t i = 0; i < in * r; i++) lora_A[i] = rnd(0.25f);
            for (uint32_t i = 0; i < r * out; i++) lora_B[i] = rnd(0.25f);
            for (uint32_t i = 0; i < t * out; i++) lora_Y[i] = NAN;
        }
    }
    if (tcdm_size > sizeof host_tcdm)
        return 2;
    alarm(20);
    pthread_barrier_init(&barrier, NULL, ncores);
    pthread_t dma, th[HETSIM_MAX_CORES];
    pthread_create(&dma, NULL, dma_worker, NULL);
    for (uint32_t i = 0; i < ncores; i++)
        pthread_create(&th[i], NULL, hart, (void *)(uintptr_t)i);
    for (uint32_t i = 0; i < ncores; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&qlock);
    dma_stop = 1;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
    pthread_join(dma, NULL);
    if (atomic_load(&done_id) != queued) {
        fprintf(stderr, "host: %u DMA transfers still pending at the end\n", queued - done_id);
        return 92;
    }
    fflush(stdout);
    if (results[0] || !custom)
        return results[0];

    /* reference */
    double worst = 0;
    for (uint32_t tok = 0; tok < t; tok++) {
        double h[16], habs[16];
        for (uint32_t k = 0; k < r; k++) {
            h[k] = habs[k] = 0;
            for (uint32_t i = 0; i < in; i++) {
                double p = (double)lora_X[tok * in + i] * lora_A[i * r + k];
                h[k] += p;
                habs[k] += fabs(p);
            }
        }
        for (uint32_t j = 0; j < out; j++) {
            double y = lora_XW[tok * out + j], s = fabs(y);
            for (uint32_t k = 0; k < r; k++) {
                y += h[k] * lora_B[k * out + j];
                s += (fabs(h[k]) + habs[k]) * fabs(lora_B[k * out + j]);
            }
            double e = fabs(lora_Y[tok * out + j] - y) / s;
            if (!(e <= 1e-5)) {
                fprintf(stderr, "host: Y[%u][%u] = %g, reference %g\n", tok, j,
                        lora_Y[tok * out + j], y);
                return 1;
            }
            if (e > worst)
                worst = e;
        }
    }
    printf("host: %ux%u r%u t%u on %u cores: Y matches (worst error %.2g of scale)\n", in, out,
           r, t, ncores, worst);
    return 0;
}
