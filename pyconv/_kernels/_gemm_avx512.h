/* The AVX-512 part of pyconv's own SGEMM (included by _gemm.h when the
 * build has -mavx512f): its blocking, its 12x32 micro-kernel and its FMA
 * probe. Packing and the blocked driver are _gemm.h's, shared with the AVX2
 * build.
 *
 * The micro-kernel keeps a 12x32 tile of C in 24 of the 32 zmm registers.
 * Per k it loads two vectors of B (one 32-wide panel row) and broadcasts
 * twelve values of A: 24 FMAs for 14 loads, against 12 for 8 in the AVX2
 * 6x16 kernel, so the load ports stay clear of the limit on cores with two
 * 512-bit FMA pipes (Intel since Skylake-SP, AMD Zen 5) and on Zen 4, which
 * runs each 512-bit FMA as two 256-bit halves. Twelve rows suit the channel
 * counts of CNNs (32, 64, 128, 256, 576 rows waste at most 12%, 3% from 128
 * up). k is cut into blocks of at most 256 (576 -> 3 x 192), so a B panel
 * (at most 32 KiB) stays in L1 while the A panels of the block stream from
 * L2.
 *
 * Edges need no buffer: the packed panels are zero-padded, the rows past m
 * are not written and the columns past n are masked off in the loads and
 * stores of C. Each C element is summed over k in order, block by block,
 * as in the AVX2 kernel: results do not depend on the thread count.
 */
#ifndef PYCONV_GEMM_AVX512_H
#define PYCONV_GEMM_AVX512_H

#define PYCONV_MR 12
#define PYCONV_NR 32
#define PYCONV_KC 256
#define PYCONV_MC 144
#define PYCONV_NC 2048

/* One row R of the tile: v = alpha*acc (+ beta*c) (+ bias), ReLU, written
 * under the column masks; rows past mr are left alone. */
#define PYCONV_GEMM512_ROW(R)                                                     \
    if ((R) < mr) {                                                               \
        float *crow = c + (R) * ldc;                                              \
        __m512 v0 = _mm512_mul_ps(c##R##_0, valpha);                              \
        __m512 v1 = _mm512_mul_ps(c##R##_1, valpha);                              \
        if (beta != 0.0f) {                                                       \
            v0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, crow), v0);     \
            v1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, crow + 16), v1); \
        }                                                                         \
        if (bias) {                                                               \
            __m512 bv = _mm512_set1_ps(bias[R]);                                  \
            v0 = _mm512_add_ps(v0, bv); v1 = _mm512_add_ps(v1, bv);               \
        }                                                                         \
        if (relu) { v0 = _mm512_max_ps(v0, vzero); v1 = _mm512_max_ps(v1, vzero); } \
        _mm512_mask_storeu_ps(crow, m0, v0);                                      \
        _mm512_mask_storeu_ps(crow + 16, m1, v1);                                 \
    }

/* One k step of row R: C[R][0:32] += a[R] * b[0:32] (FMA2), or only the
 * first 16 columns (FMA1). */
#define PYCONV_GEMM512_FMA2(R)                                                    \
    av = _mm512_set1_ps(a[R]);                                                    \
    c##R##_0 = _mm512_fmadd_ps(av, _mm512_load_ps(b), c##R##_0);                  \
    c##R##_1 = _mm512_fmadd_ps(av, _mm512_load_ps(b + 16), c##R##_1);
#define PYCONV_GEMM512_FMA1(R)                                                    \
    av = _mm512_set1_ps(a[R]);                                                    \
    c##R##_0 = _mm512_fmadd_ps(av, _mm512_load_ps(b), c##R##_0);

#define PYCONV_GEMM512_ROWS4(X) X(0) X(1) X(2) X(3)
#define PYCONV_GEMM512_ROWS8(X) PYCONV_GEMM512_ROWS4(X) X(4) X(5) X(6) X(7)
#define PYCONV_GEMM512_ROWS(X) PYCONV_GEMM512_ROWS8(X) X(8) X(9) X(10) X(11)

/* The k loop over the first rows ROWS of the tile with FMA (all 32 columns
 * or the first 16). */
#define PYCONV_GEMM512_LOOP(ROWS, FMA)                                            \
    for (p = 0; p < kc; p++) {                                                    \
        __m512 av;                                                                \
        ROWS(FMA)                                                                 \
        a += PYCONV_MR;                                                           \
        b += PYCONV_NR;                                                           \
    }

#define PYCONV_GEMM512_ZERO(R) __m512 c##R##_0 = _mm512_setzero_ps(), c##R##_1 = c##R##_0;

/* The 12x32 micro-kernel on packed panels a (kc x 12) and b (kc x 32);
 * writes the top-left mr x nr of the tile to c. An edge tile of at most 8
 * or 4 rows, or at most 16 columns, runs a loop over only those (the
 * zero padding of the panels is not multiplied): conv shapes such as
 * 256 x 784 then waste no FMAs. */
static void pyconv_sgemm_micro(ptrdiff_t kc, const float *a, const float *b,
                               float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,
                               float alpha, float beta, const float *bias, int relu)
{
    PYCONV_GEMM512_ROWS(PYCONV_GEMM512_ZERO)
    const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
    const __m512 vzero = _mm512_setzero_ps();
    const __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    ptrdiff_t p, i;
    for (i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    if (nr > 16) {
        if (mr > 8) PYCONV_GEMM512_LOOP(PYCONV_GEMM512_ROWS, PYCONV_GEMM512_FMA2)
        else if (mr > 4) PYCONV_GEMM512_LOOP(PYCONV_GEMM512_ROWS8, PYCONV_GEMM512_FMA2)
        else PYCONV_GEMM512_LOOP(PYCONV_GEMM512_ROWS4, PYCONV_GEMM512_FMA2)
    } else {
        if (mr > 8) PYCONV_GEMM512_LOOP(PYCONV_GEMM512_ROWS, PYCONV_GEMM512_FMA1)
        else if (mr > 4) PYCONV_GEMM512_LOOP(PYCONV_GEMM512_ROWS8, PYCONV_GEMM512_FMA1)
        else PYCONV_GEMM512_LOOP(PYCONV_GEMM512_ROWS4, PYCONV_GEMM512_FMA1)
    }
    PYCONV_GEMM512_ROWS(PYCONV_GEMM512_ROW)
}

#undef PYCONV_GEMM512_ROW
#undef PYCONV_GEMM512_FMA1
#undef PYCONV_GEMM512_FMA2
#undef PYCONV_GEMM512_ROWS4
#undef PYCONV_GEMM512_ROWS8
#undef PYCONV_GEMM512_ROWS
#undef PYCONV_GEMM512_LOOP
#undef PYCONV_GEMM512_ZERO

/* The FP32 FMA throughput of 512-bit FMAs, for the benchmark's "% of peak":
 * twelve independent zmm chains (enough for the FMA latency on two pipes),
 * `iters` rounds. Returns the flops done; the result is folded into *sink
 * so the loop cannot be optimised away. */
static double pyconv_fma_probe(long iters, float *sink)
{
    __m512 a[12];
    const __m512 m = _mm512_set1_ps(0.99999994f), d = _mm512_set1_ps(1e-8f);
    long i;
    int j;
    for (j = 0; j < 12; j++) a[j] = _mm512_set1_ps(1.0f + 0.1f * (float)j);
    for (i = 0; i < iters; i++) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 12
#endif
        for (j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], m, d);
    }
    for (j = 1; j < 12; j++) a[0] = _mm512_add_ps(a[0], a[j]);
    *sink += _mm512_reduce_add_ps(a[0]);
    return 12.0 * 16.0 * 2.0 * (double)iters;
}

#endif /* PYCONV_GEMM_AVX512_H */
