/* lora_batch.c - the side-by-side speed benchmark (tools/speed-vs-qemu, docs/performance.md):
 * a user-mode fp32 LoRA batch that runs unmodified under `hetsim exec` and `qemu-riscv32`.
 *
 *   Y = X W + (X A) B      X: T x IN, W: IN x OUT, A: IN x R, B: R x OUT (row-major)
 *   IN = 512, OUT = 128, R = 8, T = 128, computed LORA_BATCH_REPS times
 *
 * Built only as a Linux user program (build/user/lora_batch.elf: tools/crt0-user.S +
 * isa/link-user.ld). The inputs are generated at start-up from an integer hash (no data file);
 * each repetition nudges one input so no repetition is a copy of another. The hot loop keeps
 * four outputs in registers, so the instruction mix is mostly flw and fmadd.s.
 *
 * Output: one line on stdout, "lora_batch: 512x128 r=8 t=128 reps=N checksum=0xXXXXXXXX",
 * where the checksum is FNV-1a over the bit patterns of every Y of every repetition; then
 * exit(0) through the Linux ecalls (write = 64, exit = 93), which `hetsim exec` serves as host
 * calls. main exits itself, so crt0-user's register and data dump is not written (the data
 * section here is about 600 KiB). Both simulators implement IEEE binary32 exactly, so the two
 * checksums must be equal.
 */
#include <stdint.h>

#define LB_IN 512
#define LB_OUT 128
#define LB_R 8
#define LB_T 128
#ifndef LORA_BATCH_REPS
#define LORA_BATCH_REPS 5
#endif

float lb_x[LB_T * LB_IN];
float lb_w[LB_IN * LB_OUT];
float lb_a[LB_IN * LB_R];
float lb_b[LB_R * LB_OUT];
float lb_h[LB_T * LB_R];
float lb_y[LB_T * LB_OUT];

static long sys_write(int fd, const void *buf, uint32_t len)
{
    register long a0 __asm__("a0") = fd;
    register long a1 __asm__("a1") = (long)buf;
    register long a2 __asm__("a2") = (long)len;
    register long a7 __asm__("a7") = 64;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    return a0;
}

static __attribute__((noreturn)) void sys_exit(int code)
{
    register long a0 __asm__("a0") = code;
    register long a7 __asm__("a7") = 93;
    __asm__ volatile("ecall" : : "r"(a0), "r"(a7) : "memory");
    for (;;)
        ;
}

/* A value in [-1, 1) on the 2^-23 grid (up to 23 significant bits, like trained weights) from an
 * integer hash of (seed, index). */
static float gen(uint32_t seed, uint32_t i)
{
    uint32_t h = (i + 1) * 0x9e3779b1u ^ seed * 0x85ebca6bu;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return (float)(int32_t)(h >> 8) * (1.0f / 8388608.0f) - 1.0f;
}

static void fill(float *p, uint32_t n, uint32_t seed, float scale)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = gen(seed, i) * scale;
}

__attribute__((noinline)) static void lora_batch(const float *x, const float *w, const float *a,
                                                 const float *b, float *h, float *y)
{
    for (int t = 0; t < LB_T; t++) {
        const float *xt = x + t * LB_IN;
        /* h[t] = x[t] A */
        for (int k = 0; k < LB_R; k++) {
            float acc = 0.0f;
            for (int i = 0; i < LB_IN; i++)
                acc += xt[i] * a[i * LB_R + k];
            h[t * LB_R + k] = acc;
        }
        /* y[t] = x[t] W + h[t] B, four outputs at a time */
        for (int j = 0; j < LB_OUT; j += 4) {
            float c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f;
            for (int i = 0; i < LB_IN; i++) {
                const float xi = xt[i];
                const float *wi = w + i * LB_OUT + j;
                c0 += xi * wi[0];
                c1 += xi * wi[1];
                c2 += xi * wi[2];
                c3 += xi * wi[3];
            }
            for (int k = 0; k < LB_R; k++) {
                const float hk = h[t * LB_R + k];
                const float *bk = b + k * LB_OUT + j;
                c0 += hk * bk[0];
                c1 += hk * bk[1];
                c2 += hk * bk[2];
                c3 += hk * bk[3];
            }
            float *yt = y + t * LB_OUT + j;
            yt[0] = c0;
            yt[1] = c1;
            yt[2] = c2;
            yt[3] = c3;
        }
    }
}

static uint32_t fnv1a(uint32_t hash, const float *p, uint32_t n)
{
    const uint32_t *u = (const uint32_t *)p;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = u[i];
        for (int byte = 0; byte < 4; byte++) {
            hash ^= (v >> (8 * byte)) & 0xff;
            hash *= 16777619u;
        }
    }
    return hash;
}

static char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

static char *put_dec(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_hex(char *p, uint32_t v)
{
    p = put_str(p, "0x");
    for (int s = 28; s >= 0; s -= 4)
        *p++ = "0123456789abcdef"[(v >> s) & 0xf];
    return p;
}

int main(void)
{
    fill(lb_x, LB_T * LB_IN, 1, 1.0f);
    fill(lb_w, LB_IN * LB_OUT, 2, 0.0625f);
    fill(lb_a, LB_IN * LB_R, 3, 0.0625f);
    fill(lb_b, LB_R * LB_OUT, 4, 0.0625f);

    uint32_t sum = 2166136261u;
    for (int rep = 0; rep < LORA_BATCH_REPS; rep++) {
        lb_x[rep] += 0.5f;
        lora_batch(lb_x, lb_w, lb_a, lb_b, lb_h, lb_y);
        sum = fnv1a(sum, lb_y, LB_T * LB_OUT);
    }

    char line[96];
    char *p = put_str(line, "lora_batch: 512x128 r=8 t=128 reps=");
    p = put_dec(p, LORA_BATCH_REPS);
    p = put_str(p, " checksum=");
    p = put_hex(p, sum);
    *p++ = '\n';
    sys_write(1, line, (uint32_t)(p - line));
    sys_exit(0);
}
