/* Host stand-in for kernels/include/hetsim.h (make check-host): the same cluster HAL calls,
 * implemented with threads (one per hart), a pthread barrier, a DMA worker thread that copies
 * each queued transfer after a random delay (so a missing wait shows up as wrong data), and a
 * static array as TCDM. Timing is not modelled; this checks the work split, the buffer
 * protocol and the barrier counts of a cluster kernel. See host_cluster.c.
 */
#ifndef HETSIM_HOST_H
#define HETSIM_HOST_H

#include <stdint.h>

#define HETSIM_STACK_PER_HART 1024
#define HETSIM_MAX_CORES 32

uint32_t host_num_cores(void);
uintptr_t host_tcdm_free_end(void);
extern char host_tcdm[];
#define __tcdm_data_end host_tcdm

void host_barrier(void);
uint32_t host_dma_2d(void *dst, const void *src, uint32_t size, uint32_t dst_stride,
                     uint32_t src_stride, uint32_t reps);
void host_dma_wait(uint32_t id);
void host_putchar(char c);

static inline uint32_t hetsim_num_cores(void) { return host_num_cores(); }
static inline uintptr_t hetsim_tcdm_free_end(void) { return host_tcdm_free_end(); }
static inline void hetsim_barrier(void) { host_barrier(); }
static inline void hetsim_region_begin(uint32_t id) { (void)id; }
static inline void hetsim_region_end(uint32_t id) { (void)id; }
static inline uint32_t hetsim_dma_2d(void *dst, const void *src, uint32_t size,
                                     uint32_t dst_stride, uint32_t src_stride, uint32_t reps)
{
    return host_dma_2d(dst, src, size, dst_stride, src_stride, reps);
}
static inline uint32_t hetsim_dma_1d(void *dst, const void *src, uint32_t size)
{
    return host_dma_2d(dst, src, size, 0, 0, 1);
}
static inline void hetsim_dma_wait(uint32_t id) { host_dma_wait(id); }
static inline void hetsim_putchar(char c) { host_putchar(c); }
static inline void hetsim_puts(const char *s)
{
    while (*s)
        hetsim_putchar(*s++);
}
static inline void hetsim_putu(uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        hetsim_putchar(buf[--n]);
}

#endif
