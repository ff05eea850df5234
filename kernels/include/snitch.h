/* snitch.h - the Snitch custom instructions (Xssr, Xfrep, Xfvec, Xdma) for stock compilers.
 *
 * Stock clang and GCC do not know these mnemonics, so each is written with `.insn` in the exact
 * encoding of the Snitch cluster's riscv_instr.sv (docs/isa.md; the simulator's tests pin
 * every encoding against the reference sheet). Include after hetsim.h.
 *
 * Streams: ft0, ft1, ft2 are stream registers while streaming is enabled (CSR 0x7C0 bit 0).
 * C code must not let the compiler use ft0-ft2 while streaming: put everything between
 * hetsim_ssr_enable() and hetsim_ssr_disable() that touches FP registers in asm blocks that
 * name their registers, as the kernels here do.
 */
#ifndef HETSIM_SNITCH_H
#define HETSIM_SNITCH_H

#include "hetsim.h"

/* SSR configuration register numbers (word address = reg << 5 | stream). */
#define HETSIM_SSR_REPEAT 1              /* deliveries per read element - 1 (4 bits) */
#define HETSIM_SSR_BOUND(d) (2 + (d))    /* loop d: iterations - 1 */
#define HETSIM_SSR_STRIDE(d) (6 + (d))   /* loop d: byte increment when it is the outermost advancing */
#define HETSIM_SSR_RPTR(loops) (23 + (loops)) /* write: launch a read job of 1..4 loops */
#define HETSIM_SSR_WPTR(loops) (27 + (loops)) /* write: launch a write job of 1..4 loops */
#define HETSIM_SSR_ALL 31                /* stream number broadcasting a write to all streams */
#define HETSIM_SSR_CSR 0x7c0

#ifndef __ASSEMBLER__
/* scfgwi value, reg << 5 | stream (reg and stream must be compile-time constants). */
#define hetsim_ssr_cfg(reg, stream, value)                                                   \
    __asm__ volatile(".insn i 0x2b, 2, x0, %0, %1" ::"r"(value), "i"(((reg) << 5) | (stream)) \
                     : "memory")

/* Streaming on / off. Disabling waits (in the hardware and the model) for the FP subsystem to
 * drain, write streams included. */
static inline void hetsim_ssr_enable(void) { __asm__ volatile("csrsi 0x7c0, 1" ::: "memory"); }
static inline void hetsim_ssr_disable(void) { __asm__ volatile("csrci 0x7c0, 1" ::: "memory"); }

/* A 1-D read job on `stream` over n words from ptr with stride (bytes) and repeat. */
#define hetsim_ssr_read_1d(stream, ptr, n, stride)                                           \
    do {                                                                                     \
        hetsim_ssr_cfg(HETSIM_SSR_BOUND(0), stream, (n) - 1);                                \
        hetsim_ssr_cfg(HETSIM_SSR_STRIDE(0), stream, stride);                                \
        hetsim_ssr_cfg(HETSIM_SSR_RPTR(1), stream, (uint32_t)(uintptr_t)(ptr));              \
    } while (0)
#endif

#ifndef __ASSEMBLER__
/* Xdma: the DMA core's instructions (custom-1, funct3 000), driving the same engine as the
 * memory-mapped registers (docs/isa.md "Xdma"). Transfer ids count from 1 and complete in
 * order. */
static inline void hetsim_dm_src(const void *src)
{
    __asm__ volatile(".insn r 0x2b, 0, 0, x0, %0, x0" ::"r"(src) : "memory");
}
static inline void hetsim_dm_dst(void *dst)
{
    __asm__ volatile(".insn r 0x2b, 0, 1, x0, %0, x0" ::"r"(dst) : "memory");
}
/* Source and destination strides of 2-D transfers. */
static inline void hetsim_dm_str(uint32_t src_stride, uint32_t dst_stride)
{
    __asm__ volatile(".insn r 0x2b, 0, 6, x0, %0, %1" ::"r"(src_stride), "r"(dst_stride));
}
/* Rows of 2-D transfers. */
static inline void hetsim_dm_rep(uint32_t rows)
{
    __asm__ volatile(".insn r 0x2b, 0, 7, x0, %0, x0" ::"r"(rows));
}
/* dmcpyi: start a 1-D (config 0) or 2-D (config 2) transfer of `size` bytes per row; returns
 * its id. A full queue stalls the core until a transfer leaves it. */
static inline uint32_t hetsim_dm_cpy_1d(uint32_t size)
{
    uint32_t id;
    __asm__ volatile(".insn r 0x2b, 0, 2, %0, %1, x0" : "=r"(id) : "r"(size) : "memory");
    return id;
}
static inline uint32_t hetsim_dm_cpy_2d(uint32_t size)
{
    uint32_t id;
    __asm__ volatile(".insn r 0x2b, 0, 2, %0, %1, x2" : "=r"(id) : "r"(size) : "memory");
    return id;
}
/* dmstati 0: id of the last completed transfer; dmstati 2: transfers queued or in flight. */
static inline uint32_t hetsim_dm_done_id(void)
{
    uint32_t v;
    __asm__ volatile(".insn r 0x2b, 0, 4, %0, x0, x0" : "=r"(v)::"memory");
    return v;
}
static inline uint32_t hetsim_dm_busy(void)
{
    uint32_t v;
    __asm__ volatile(".insn r 0x2b, 0, 4, %0, x0, x2" : "=r"(v)::"memory");
    return v;
}
#endif

/* frep.o in asm text: FREP_O(reg, n_inst, stagger_max, stagger_mask) expands to an .insn line
 * repeating the next n_inst FP instructions (reg + 1) times; all but `reg` must be literals.
 * The rd field holds stagger_mask << 1 | 1 (bit 7 = outer), spelled as a register name. */
#define HETSIM_FREP_RD_0 x1
#define HETSIM_FREP_RD_1 x3
#define HETSIM_FREP_RD_2 x5
#define HETSIM_FREP_RD_3 x7
#define HETSIM_FREP_RD_4 x9
#define HETSIM_FREP_RD_5 x11
#define HETSIM_FREP_RD_6 x13
#define HETSIM_FREP_RD_7 x15
#define HETSIM_FREP_RD_8 x17
#define HETSIM_FREP_RD_9 x19
#define HETSIM_FREP_RD_10 x21
#define HETSIM_FREP_RD_11 x23
#define HETSIM_FREP_RD_12 x25
#define HETSIM_FREP_RD_13 x27
#define HETSIM_FREP_RD_14 x29
#define HETSIM_FREP_RD_15 x31
#define HETSIM_CAT_(a, b) a##b
#define HETSIM_CAT(a, b) HETSIM_CAT_(a, b)
#define FREP_O(reg, n_inst, stagger_max, stagger_mask)                                       \
    ".insn i 0x0b, " HETSIM_STR(stagger_max) ", " HETSIM_STR(                                \
        HETSIM_CAT(HETSIM_FREP_RD_, stagger_mask)) ", " reg ", " HETSIM_STR(n_inst) " - 1\n"

/* Packed-SIMD fp16 (Xfvec, 2 lanes with FLEN = 32) in asm text: operands are register names. */
#define VFDOTPEX_S_H(rd, rs1, rs2) ".insn r 0x33, 0, 0x4b, " rd ", " rs1 ", " rs2 "\n"
#define VFMAC_H(rd, rs1, rs2) ".insn r 0x33, 2, 0x48, " rd ", " rs1 ", " rs2 "\n"
#define VFMUL_H(rd, rs1, rs2) ".insn r 0x33, 2, 0x43, " rd ", " rs1 ", " rs2 "\n"
#define VFADD_H(rd, rs1, rs2) ".insn r 0x33, 2, 0x41, " rd ", " rs1 ", " rs2 "\n"
#define VFMAX_H(rd, rs1, rs2) ".insn r 0x33, 2, 0x46, " rd ", " rs1 ", " rs2 "\n"
#define VFSUMEX_S_H(rd, rs1) ".insn r 0x33, 0, 0x47, " rd ", " rs1 ", x22\n" /* rs2 = 10110 */
#define VFCPKA_H_S(rd, rs1, rs2) ".insn r 0x33, 2, 0x58, " rd ", " rs1 ", " rs2 "\n"
#define VFCVT_S_H(rd, rs1) ".insn r 0x33, 0, 0x4c, " rd ", " rs1 ", x6\n"   /* rs2 = 00110 */
#define VFCVTU_S_H(rd, rs1) ".insn r 0x33, 4, 0x4c, " rd ", " rs1 ", x6\n"

#endif /* HETSIM_SNITCH_H */
