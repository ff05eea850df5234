/* xdma_copy - a 2-D DMA transfer driven by the Xdma instructions (kernels/include/snitch.h).
 *
 * The DMA core (the last hart) copies a ROWS x ROW_BYTES block out of a larger L2 array (row
 * pitch SRC_PITCH) into TCDM with row pitch DST_PITCH using dmsrc, dmdst, dmstr, dmrep and
 * dmcpyi, waits with dmstati until the engine is idle, checks every byte against the source,
 * then copies the block back into a second L2 array with the strides swapped (a second 2-D
 * transfer, waited for by its id) and checks that too. Exit code 0 when both copies are exact,
 * 1 (data wrong) or 2 (transfer ids out of order) otherwise; the compute cores only meet the
 * barrier.
 * Needs a cluster with `extensions.xdma` (e.g. the study preset).
 */
#include "hetsim.h"
#include "snitch.h"

#define ROWS 12
#define ROW_BYTES 96
#define SRC_PITCH 160
#define DST_PITCH 128

uint8_t xdma_src[ROWS * SRC_PITCH];
uint8_t xdma_back[ROWS * SRC_PITCH];
uint8_t xdma_tcdm[ROWS * DST_PITCH] __attribute__((section(".tcdm"), aligned(64)));

static int run_dma(void)
{
    for (uint32_t k = 0; k < sizeof xdma_src; k++) {
        xdma_src[k] = (uint8_t)(k * 7 + 3);
    }
    hetsim_dm_src(xdma_src);
    hetsim_dm_dst(xdma_tcdm);
    hetsim_dm_str(SRC_PITCH, DST_PITCH);
    hetsim_dm_rep(ROWS);
    uint32_t first = hetsim_dm_cpy_2d(ROW_BYTES);
    while (hetsim_dm_busy() != 0) {
    }
    if (hetsim_dm_done_id() != first) {
        return 2;
    }
    for (uint32_t r = 0; r < ROWS; r++) {
        for (uint32_t b = 0; b < ROW_BYTES; b++) {
            if (xdma_tcdm[r * DST_PITCH + b] != xdma_src[r * SRC_PITCH + b]) {
                return 1;
            }
        }
    }
    /* And back, with the strides swapped. */
    hetsim_dm_src(xdma_tcdm);
    hetsim_dm_dst(xdma_back);
    hetsim_dm_str(DST_PITCH, SRC_PITCH);
    uint32_t second = hetsim_dm_cpy_2d(ROW_BYTES);
    while (hetsim_dm_done_id() < second) {
    }
    if (second != first + 1) {
        return 2;
    }
    for (uint32_t r = 0; r < ROWS; r++) {
        for (uint32_t b = 0; b < ROW_BYTES; b++) {
            if (xdma_back[r * SRC_PITCH + b] != xdma_src[r * SRC_PITCH + b]) {
                return 1;
            }
        }
    }
    return 0;
}

static volatile int xdma_result = -1;

int main(uint32_t hart, uint32_t cores)
{
    if (hart == cores - 1) {
        xdma_result = run_dma();
    }
    hetsim_barrier();
    return xdma_result;
}
