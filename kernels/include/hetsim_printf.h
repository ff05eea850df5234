/* hetsim_printf.h - printf for kernels (part of the HAL; freestanding, no libc).
 *
 *   #include "hetsim_printf.h"
 *   hetsim_printf("core %d: %u items, x = %f, mask %08x, %s %c\n", id, n, x, m, "ok", '!');
 *
 * Conversions: %d %i (int), %u (unsigned), %x %X (hex), %s (string, NULL prints "(null)"),
 * %c (char), %f (float or double, 6 decimals; %.Nf for N = 0..9), %% (a percent sign). An
 * optional width, with '0' for zero padding and '-' for left alignment, works for every
 * conversion (%08x, %5d, %-8s, %10.3f); `l` (as in %lu) is accepted and ignored (int and long
 * are both 32-bit). Anything else is printed as written.
 *
 * %f is exact for binary32 values: it prints the decimal expansion of the value rounded to the
 * requested decimals, ties to even (as glibc does); doubles are first cut to binary32 precision
 * (hetsim's cores have no double-precision unit); values of 2^160 or more print as "inf", NaN
 * as "nan". Only 32-bit integer division is used (no libgcc/compiler-rt calls).
 *
 * Output goes through the `write` host call (ecall with a7 = 64, a0 = fd 1, a1 = buffer,
 * a2 = length), buffered per call in 128 bytes: served by `hetsim exec` and by the cluster of
 * `hetsim kernel` while no trap handler of the kernel's own is installed (crt0's is fine), and by
 * Linux (qemu-riscv32) in the user-mode builds. Under `hetsim kernel` the console collects each
 * core's output line by line and prefixes every line with "[core N] " (docs/kernels.md).
 *
 * Passing a float to a variadic function converts it to double, which an RV32IMF compiler does
 * with a call to __extendsfdf2; this header defines a weak integer-only one (a libc or
 * compiler-rt linked in takes precedence).
 */
#ifndef HETSIM_PRINTF_H
#define HETSIM_PRINTF_H

#include <stdarg.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* write(fd, buf, len) through the host call; returns the bytes written (or a negative error
 * under Linux). */
static inline int32_t hetsim_write(int32_t fd, const void *buf, uint32_t len)
{
    register int32_t a0 __asm__("a0") = fd;
    register const void *a1 __asm__("a1") = buf;
    register uint32_t a2 __asm__("a2") = len;
    register uint32_t a7 __asm__("a7") = 64;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    return a0;
}

/* Output buffer of one hetsim_printf call. */
typedef struct {
    char buf[128];
    uint32_t n;
} hetsim_out_t;

static inline void hetsim_out_flush(hetsim_out_t *o)
{
    if (o->n) {
        hetsim_write(1, o->buf, o->n);
        o->n = 0;
    }
}

static inline void hetsim_out_putc(hetsim_out_t *o, char c)
{
    if (o->n == sizeof o->buf)
        hetsim_out_flush(o);
    o->buf[o->n++] = c;
}

/* Prints `neg` ? "-" : "", then the `nd` characters of `rev` in reverse order, padded to
 * `width` with spaces (before, or after when `left`) or zeros (after the sign). */
static inline void hetsim_out_field(hetsim_out_t *o, const char *rev, int nd, int neg, int width,
                                    char pad, int left)
{
    int len = nd + neg;
    if (!left && pad == ' ')
        for (; len < width; len++)
            hetsim_out_putc(o, ' ');
    if (neg)
        hetsim_out_putc(o, '-');
    if (!left && pad == '0')
        for (; len < width; len++)
            hetsim_out_putc(o, '0');
    while (nd)
        hetsim_out_putc(o, rev[--nd]);
    for (; len < width; len++)
        hetsim_out_putc(o, ' ');
}

/* Multi-word (little-endian 32-bit words) unsigned arithmetic with 32-bit operations only:
 * w = w * 10, returning the carry out (0..9); w = w / 10, returning the remainder. */
static inline uint32_t hetsim_big_mul10(uint32_t *w, int n)
{
    uint32_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint32_t lo = (w[i] & 0xffffu) * 10u + carry;
        uint32_t hi = (w[i] >> 16) * 10u + (lo >> 16);
        w[i] = (hi << 16) | (lo & 0xffffu);
        carry = hi >> 16;
    }
    return carry;
}

static inline uint32_t hetsim_big_div10(uint32_t *w, int n)
{
    uint32_t r = 0;
    for (int i = n - 1; i >= 0; i--) {
        uint32_t a = (r << 16) | (w[i] >> 16);
        uint32_t qa = a / 10u;
        uint32_t b = ((a % 10u) << 16) | (w[i] & 0xffffu);
        w[i] = (qa << 16) | (b / 10u);
        r = b % 10u;
    }
    return r;
}

/* %f of the double with these bits, `prec` decimals (0..9). The value, cut to a 24-bit
 * mantissa, is held exactly as value * 2^160 in ten words: w[0..4] the fraction, w[5..9] the
 * integer part (binary32 values are below 2^128 and their lowest bit is at least 2^-149). */
static inline void hetsim_out_float(hetsim_out_t *o, uint64_t bits, int prec, int width, char pad,
                                    int left)
{
    uint32_t hi = (uint32_t)(bits >> 32), lo = (uint32_t)bits;
    int neg = (int)(hi >> 31);
    int e = (int)((hi >> 20) & 0x7ffu);
    uint32_t w[10];
    char txt[52];
    for (int i = 0; i < 10; i++)
        w[i] = 0;
    int nt = 0;
    if (e != 0) {
        uint32_t m = (1u << 23) | ((hi & 0xfffffu) << 3) | (lo >> 29);
        int sh = e - 1046 + 160; /* value = m * 2^(e - 1046) */
        if (e == 0x7ff || sh > 320 - 24) {
            const char *s = (e == 0x7ff && ((hi & 0xfffffu) | lo)) ? "nan" : "inf";
            if (s[0] == 'n')
                neg = 0;
            for (nt = 0; nt < 3; nt++)
                txt[nt] = s[2 - nt];
            hetsim_out_field(o, txt, nt, neg, width, ' ', left);
            return;
        }
        if (sh < 0) {
            m = -sh < 24 ? m >> -sh : 0;
            sh = 0;
        }
        w[sh / 32] = m << (sh % 32);
        if (sh % 32 > 8)
            w[sh / 32 + 1] = m >> (32 - sh % 32);
    }
    char frac[9];
    for (int k = 0; k < prec; k++)
        frac[k] = (char)('0' + hetsim_big_mul10(w, 5));
    /* Round what is left (w[0..4] / 2^160) to even. */
    int last_odd = prec ? (frac[prec - 1] & 1) : (int)(w[5] & 1);
    int rest = (w[0] | w[1] | w[2] | w[3]) != 0;
    if (w[4] > 0x80000000u || (w[4] == 0x80000000u && (rest || last_odd))) {
        int k = prec;
        while (k > 0 && frac[k - 1] == '9')
            frac[--k] = '0';
        if (k > 0)
            frac[k - 1]++;
        else
            for (int i = 5; i < 10 && ++w[i] == 0; i++) {
            }
    }
    for (int k = prec; k > 0; k--)
        txt[nt++] = frac[k - 1];
    if (prec)
        txt[nt++] = '.';
    do {
        txt[nt++] = (char)('0' + hetsim_big_div10(w + 5, 5));
    } while (w[5] | w[6] | w[7] | w[8] | w[9]);
    hetsim_out_field(o, txt, nt, neg, width, pad, left);
}

/* printf to stdout (fd 1); see the top of this file. Returns nothing (the host call cannot
 * fail under hetsim). */
static inline __attribute__((format(printf, 1, 0))) void hetsim_vprintf(const char *fmt,
                                                                         va_list ap)
{
    hetsim_out_t o;
    o.n = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            hetsim_out_putc(&o, *p);
            continue;
        }
        const char *start = p++;
        int left = 0, width = 0, prec = -1;
        char pad = ' ';
        for (; *p == '-' || *p == '0'; p++) {
            if (*p == '-')
                left = 1;
            else
                pad = '0';
        }
        if (left)
            pad = ' ';
        for (; *p >= '0' && *p <= '9'; p++)
            width = width * 10 + (*p - '0');
        if (*p == '.') {
            prec = 0;
            for (p++; *p >= '0' && *p <= '9'; p++)
                prec = prec * 10 + (*p - '0');
        }
        while (*p == 'l')
            p++;
        char rev[12];
        int nd = 0;
        switch (*p) {
        case 'd':
        case 'i': {
            int32_t v = va_arg(ap, int32_t);
            uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
            do {
                rev[nd++] = (char)('0' + u % 10u);
                u /= 10u;
            } while (u);
            hetsim_out_field(&o, rev, nd, v < 0, width, pad, left);
            break;
        }
        case 'u': {
            uint32_t u = va_arg(ap, uint32_t);
            do {
                rev[nd++] = (char)('0' + u % 10u);
                u /= 10u;
            } while (u);
            hetsim_out_field(&o, rev, nd, 0, width, pad, left);
            break;
        }
        case 'x':
        case 'X': {
            uint32_t u = va_arg(ap, uint32_t);
            const char *digits = *p == 'x' ? "0123456789abcdef" : "0123456789ABCDEF";
            do {
                rev[nd++] = digits[u & 15u];
                u >>= 4;
            } while (u);
            hetsim_out_field(&o, rev, nd, 0, width, pad, left);
            break;
        }
        case 'c':
            rev[0] = (char)va_arg(ap, int);
            hetsim_out_field(&o, rev, 1, 0, width, ' ', left);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len])
                len++;
            for (int k = len; !left && k < width; k++)
                hetsim_out_putc(&o, ' ');
            for (int k = 0; k < len; k++)
                hetsim_out_putc(&o, s[k]);
            for (int k = len; left && k < width; k++)
                hetsim_out_putc(&o, ' ');
            break;
        }
        case 'f': {
            /* A double arrives as the 64 bits of an aligned register pair, like a uint64_t
             * (ilp32f passes variadic FP arguments in integer registers). */
            uint64_t bits = va_arg(ap, uint64_t);
            hetsim_out_float(&o, bits, prec < 0 ? 6 : prec > 9 ? 9 : prec, width, pad, left);
            break;
        }
        case '%':
            hetsim_out_putc(&o, '%');
            break;
        default: /* not a conversion: print it as written */
            for (const char *q = start; q <= p && *q; q++)
                hetsim_out_putc(&o, *q);
            if (!*p)
                p--;
            break;
        }
    }
    hetsim_out_flush(&o);
}

static inline __attribute__((format(printf, 1, 2))) void hetsim_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hetsim_vprintf(fmt, ap);
    va_end(ap);
}

/* float -> double for variadic calls (see the top of this file): exact, integer-only. */
__attribute__((weak)) double __extendsfdf2(float f)
{
    union {
        float f;
        uint32_t u;
    } in = {f};
    uint32_t s = in.u >> 31, e = (in.u >> 23) & 0xffu, m = in.u & 0x7fffffu;
    uint64_t out;
    if (e == 0xff) {
        out = ((uint64_t)s << 63) | (0x7ffull << 52) | ((uint64_t)m << 29);
    } else if (e == 0) {
        if (m == 0) {
            out = (uint64_t)s << 63;
        } else { /* subnormal: normalise */
            int k = 0;
            while (!(m & 0x800000u)) {
                m <<= 1;
                k++;
            }
            out = ((uint64_t)s << 63) | ((uint64_t)(1023 - 126 - k) << 52) |
                  ((uint64_t)(m & 0x7fffffu) << 29);
        }
    } else {
        out = ((uint64_t)s << 63) | ((uint64_t)(e - 127 + 1023) << 52) | ((uint64_t)m << 29);
    }
    union {
        uint64_t u;
        double d;
    } r = {out};
    return r.d;
}

#ifdef __cplusplus
}
#endif

#endif /* HETSIM_PRINTF_H */
