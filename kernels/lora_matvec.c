/* lora_matvec.c - self-checking single-core LoRA matrix-vector product, fp32.
 *
 *   y = x W + (x A) B        x: 1 x IN, W: IN x OUT, A: IN x R, B: R x OUT (row-major)
 *
 * Inputs and expected outputs are generated on the host by gen_lora_data.py (gen/lora_data.h).
 * The buffers are global symbols (lora_x, lora_W, lora_A, lora_B, lora_h, lora_y) so the
 * simulator can bind them by name. Exit code: 0 if every output is within LORA_RTOL (1e-5)
 * relative to its error scale (see the generator), else 1 + index of the first mismatch.
 * lora_cycles / lora_instret record the mcycle / minstret delta of the compute part.
 */
#include <stdint.h>

#include "hetsim.h"
#include "lora_data.h"

float lora_h[LORA_R];
float lora_y[LORA_OUT];
volatile uint32_t lora_cycles;
volatile uint32_t lora_instret;

__attribute__((noinline)) void lora_matvec(const float *x, const float *W, const float *A,
                                           const float *B, float *h, float *y)
{
    /* h = x A */
    for (int k = 0; k < LORA_R; k++) {
        float acc = 0.0f;
        for (int i = 0; i < LORA_IN; i++)
            acc += x[i] * A[i * LORA_R + k];
        h[k] = acc;
    }
    /* y = x W + h B */
    for (int j = 0; j < LORA_OUT; j++) {
        float acc = 0.0f;
        for (int i = 0; i < LORA_IN; i++)
            acc += x[i] * W[i * LORA_OUT + j];
        for (int k = 0; k < LORA_R; k++)
            acc += h[k] * B[k * LORA_OUT + j];
        y[j] = acc;
    }
}

int main(void)
{
    uint32_t c0 = hetsim_cycles();
    uint32_t i0 = hetsim_instret();
    lora_matvec(lora_x, lora_W, lora_A, lora_B, lora_h, lora_y);
    lora_cycles = hetsim_cycles() - c0;
    lora_instret = hetsim_instret() - i0;

    for (int j = 0; j < LORA_OUT; j++) {
        float err = __builtin_fabsf(lora_y[j] - lora_expected[j]);
        /* written so that a NaN result also fails */
        if (!(err <= LORA_RTOL * lora_scale[j]))
            return j + 1;
    }
    return 0;
}
