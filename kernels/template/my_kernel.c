/* my_kernel.c - a template for your first cluster kernel (docs/getting-started.md, "Firmware").
 *
 *   out_data[i] = scale * in_data[i]   for i < N, spread over the compute cores
 *
 * The pattern most cluster kernels follow (kernels/lora.c is a larger one):
 *   1. the DMA core (the last hart) copies the input from L2 into TCDM (the cluster's fast
 *      local memory) and waits for the transfer;
 *   2. a barrier: every core (the DMA core included) waits until all have arrived;
 *   3. each compute core (harts 0 .. ncores-2) scales its own share in TCDM;
 *   4. a barrier, then the DMA core copies the result back to L2, and a last barrier;
 *   5. core 0 prints a checksum and returns 0 (crt0 turns main's return value on hart 0 into the
 *      exit code: nothing may return before the last barrier).
 *
 * Inputs and outputs: the host binds ELF symbols by name, e.g.
 *   hetsim kernel build/my_kernel.elf --input in_data=in.npy --output out_data=out.npy
 * `--input` writes the file's bytes (a .npy is read as f32) into the symbol before the run, so an
 * input must live in .data: a zero-initialised global goes to .bss, which crt0 clears before
 * main, and hetsim refuses `--input` there. The section attribute below keeps in_data in .data
 * whatever its initialiser; a file shorter than the array fills only its first elements.
 */
#include "hetsim.h"
#include "hetsim_printf.h"

#define N 256 /* elements; a multiple of the number of compute cores keeps the split simple */

/* L2 (main memory): the host's view. */
float in_data[N] __attribute__((section(".data"))) = {1.0f, 2.0f, 3.0f, 4.0f};
float scale __attribute__((section(".data"))) = 2.0f;
float out_data[N]; /* .bss is fine for an output: the host reads it after the run */

/* TCDM (L1): the working copies, 64-byte aligned for the DMA. */
static float tcdm_in[N] __attribute__((section(".tcdm"), aligned(64)));
static float tcdm_out[N] __attribute__((section(".tcdm"), aligned(64)));

int main(uint32_t hart, uint32_t ncores)
{
    uint32_t workers = ncores - 1; /* compute cores; hart ncores-1 drives the DMA */

    /* 1. L2 -> TCDM on the DMA core. */
    if (hetsim_is_dma_core())
        hetsim_dma_wait(hetsim_dma_1d(tcdm_in, in_data, sizeof tcdm_in));
    hetsim_barrier(); /* 2. the input is in TCDM for everyone */

    /* 3. Each compute core takes a contiguous share (the last one also takes the remainder). */
    if (hart < workers) {
        uint32_t share = N / workers;
        uint32_t begin = hart * share;
        uint32_t end = hart == workers - 1 ? N : begin + share;
        float s = scale;
        for (uint32_t i = begin; i < end; i++)
            tcdm_out[i] = s * tcdm_in[i];
    }
    hetsim_barrier(); /* 4. every share is done */

    if (hetsim_is_dma_core())
        hetsim_dma_wait(hetsim_dma_1d(out_data, tcdm_out, sizeof tcdm_out));
    hetsim_barrier(); /* out_data in L2 is complete */

    /* 5. A checksum from core 0 (the sum in index order, printed as a number and as bits). */
    if (hart == 0) {
        float sum = 0.0f;
        for (uint32_t i = 0; i < N; i++)
            sum += out_data[i];
        union {
            float f;
            uint32_t u;
        } bits = {sum};
        hetsim_printf("checksum %f (0x%08x) over %d elements\n", sum, bits.u, N);
    }
    return 0;
}
