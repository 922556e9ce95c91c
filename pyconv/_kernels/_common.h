/* What every conv kernel header shares: the vectorisation pragmas and
 * qualifiers, and the small row loops that several algorithms use (zero-padded
 * row and plane copies, the deinterleave of a row into even and odd
 * elements, a sum in double).
 *
 * Loops marked `omp simd` are vectorised although several output streams
 * share one base pointer (they never overlap). Without OpenMP the pragma is
 * ignored and the loops stay correct, only scalar. The same sources serve
 * every ISA build (baseline, conv_avx2, ...), which differ only in code
 * generation; intrinsics sit behind `#if defined(__AVX2__) ...`. */
#ifndef PYCONV_COMMON_H
#define PYCONV_COMMON_H

#include <stddef.h>

#if defined(_OPENMP)
#define PYCONV_SIMD _Pragma("omp simd")
#else
#define PYCONV_SIMD
#endif

#if defined(_MSC_VER)
#define PYCONV_RESTRICT __restrict
#else
#define PYCONV_RESTRICT __restrict__
#endif

#if defined(__GNUC__) && !defined(__clang__)
/* Keep the short row copies inline: gcc would turn them into memcpy/memset
 * calls, whose overhead dominates rows of 10-32 elements. */
#define PYCONV_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PYCONV_NO_LIBCALLS
#endif

#if defined(_OPENMP)
#define PYCONV_SIMD_SUM_ACC _Pragma("omp simd reduction(+:acc)")
#else
#define PYCONV_SIMD_SUM_ACC
#endif

/* dst[k] = src[k] for lo <= k < hi, zero for the rest of [0, L): the short
 * zero-padded row copies of the Winograd transforms and padded planes, where
 * a libc memcpy call costs as much as the copy itself (and a call per row of
 * a plane adds as much again). */
#define PYCONV_PAD_ROW_DEFINE(T, SUF)                                                  \
PYCONV_NO_LIBCALLS                                                                     \
static void pyconv_pad_row_##SUF(T *PYCONV_RESTRICT dst, const T *PYCONV_RESTRICT src, \
                                 ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t L)              \
{                                                                                      \
    ptrdiff_t k;                                                                       \
    for (k = 0; k < lo; k++) dst[k] = 0;                                               \
    for (k = lo; k < hi; k++) dst[k] = src[k];                                         \
    for (k = hi; k < L; k++) dst[k] = 0;                                               \
}                                                                                      \
                                                                                       \
/* Copy one [H, W] plane into a zeroed [Hp, Wp] frame at offset (ph, pw); a   */       \
/* negative ph starts the frame inside the plane (a block of its rows).       */       \
PYCONV_NO_LIBCALLS                                                                     \
static void pyconv_pad_plane_##SUF(const T *src, ptrdiff_t H, ptrdiff_t W, ptrdiff_t ph, \
                                   ptrdiff_t pw, T *dst, ptrdiff_t Hp, ptrdiff_t Wp)   \
{                                                                                      \
    ptrdiff_t r, ih, lo = pw > 0 ? pw : 0, hi = W + pw;                                \
    if (lo > Wp) lo = Wp;                                                              \
    if (hi > Wp) hi = Wp;                                                              \
    if (hi < lo) hi = lo;                                                              \
    for (r = 0; r < Hp; r++) {                                                         \
        ih = r - ph;                                                                   \
        if (ih < 0 || ih >= H)                                                         \
            pyconv_pad_row_##SUF(dst + r * Wp, src, 0, 0, Wp);                         \
        else                                                                           \
            pyconv_pad_row_##SUF(dst + r * Wp, src + ih * W - pw, lo, hi, Wp);         \
    }                                                                                  \
}

PYCONV_PAD_ROW_DEFINE(float, f)
PYCONV_PAD_ROW_DEFINE(double, d)

/* Deinterleave a row: e[k] = src[2k - shift], o[k] = src[2k + 1 - shift],
 * zero outside [0, n) (the Winograd F(2x2) input rows, the phase split). */
#define PYCONV_DEINTERLEAVE_DEFINE(T, SUF)                                             \
static void pyconv_deinterleave_##SUF(const T *src, ptrdiff_t n, ptrdiff_t shift,      \
                                      T *e, T *o, ptrdiff_t len)                       \
{                                                                                      \
    ptrdiff_t k, i, lo, hi;                                                            \
    /* k range where 2k - shift >= 0 and 2k + 1 - shift <= n - 1 */                    \
    lo = shift > 0 ? (shift + 1) / 2 : 0;                                              \
    hi = (n + shift - 1) >= 1 ? (n + shift - 2) / 2 + 1 : 0;                           \
    if (hi > len) hi = len;                                                            \
    if (lo > hi) lo = hi;                                                              \
    for (k = 0; k < lo; k++) {                                                         \
        i = 2 * k - shift;                                                             \
        e[k] = (i >= 0 && i < n) ? src[i] : (T)0;                                      \
        o[k] = (i + 1 >= 0 && i + 1 < n) ? src[i + 1] : (T)0;                          \
    }                                                                                  \
    {                                                                                  \
        const T *s = src - shift;                                                      \
        PYCONV_SIMD                                                                    \
        for (k = lo; k < hi; k++) {                                                    \
            e[k] = s[2 * k];                                                           \
            o[k] = s[2 * k + 1];                                                       \
        }                                                                              \
    }                                                                                  \
    for (k = hi; k < len; k++) {                                                       \
        i = 2 * k - shift;                                                             \
        e[k] = (i >= 0 && i < n) ? src[i] : (T)0;                                      \
        o[k] = (i + 1 >= 0 && i + 1 < n) ? src[i + 1] : (T)0;                          \
    }                                                                                  \
}

PYCONV_DEINTERLEAVE_DEFINE(float, f)
PYCONV_DEINTERLEAVE_DEFINE(double, d)

/* A plain sum accumulated in double, in lanes (a fixed order for a given
 * build, independent of the thread count): the bias gradients. */
#define PYCONV_SUM_DEFINE(T, SUF)                                                      \
static double pyconv_sum_##SUF(const T *a, ptrdiff_t n)                                \
{                                                                                      \
    ptrdiff_t t;                                                                       \
    double acc = 0;                                                                    \
    PYCONV_SIMD_SUM_ACC                                                               \
    for (t = 0; t < n; t++) acc += a[t];                                               \
    return acc;                                                                        \
}

PYCONV_SUM_DEFINE(float, f)
PYCONV_SUM_DEFINE(double, d)

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
/* The 6 x 16 float register tile of the AVX2 GEMM micro-kernel and of the
 * direct convolutions: six rows of two 8-float accumulators, acc<q>0 and
 * acc<q>1 for row q (12 of the 16 ymm registers). One step broadcasts six
 * floats *P0 .. *P5 and multiplies each with the same two vectors V0, V1:
 * 12 FMAs for 8 loads. */
#define PYCONV_TILE6x16_INIT(V0, V1)                                                   \
    __m256 acc00 = (V0), acc01 = (V1), acc10 = (V0), acc11 = (V1);                     \
    __m256 acc20 = (V0), acc21 = (V1), acc30 = (V0), acc31 = (V1);                     \
    __m256 acc40 = (V0), acc41 = (V1), acc50 = (V0), acc51 = (V1)
#define PYCONV_TILE6x16_ROW(Q, P, V0, V1)                                              \
    do {                                                                               \
        __m256 s_ = _mm256_broadcast_ss(P);                                            \
        acc##Q##0 = _mm256_fmadd_ps(s_, V0, acc##Q##0);                                \
        acc##Q##1 = _mm256_fmadd_ps(s_, V1, acc##Q##1);                                \
    } while (0)
#define PYCONV_TILE6x16_STEP(P0, P1, P2, P3, P4, P5, V0, V1)                           \
    do {                                                                               \
        PYCONV_TILE6x16_ROW(0, P0, V0, V1); PYCONV_TILE6x16_ROW(1, P1, V0, V1);        \
        PYCONV_TILE6x16_ROW(2, P2, V0, V1); PYCONV_TILE6x16_ROW(3, P3, V0, V1);        \
        PYCONV_TILE6x16_ROW(4, P4, V0, V1); PYCONV_TILE6x16_ROW(5, P5, V0, V1);        \
    } while (0)
/* Row q of the tile to TMP[q][0 .. 16). */
#define PYCONV_TILE6x16_STORE(TMP)                                                     \
    do {                                                                               \
        _mm256_storeu_ps(TMP[0], acc00); _mm256_storeu_ps(TMP[0] + 8, acc01);          \
        _mm256_storeu_ps(TMP[1], acc10); _mm256_storeu_ps(TMP[1] + 8, acc11);          \
        _mm256_storeu_ps(TMP[2], acc20); _mm256_storeu_ps(TMP[2] + 8, acc21);          \
        _mm256_storeu_ps(TMP[3], acc30); _mm256_storeu_ps(TMP[3] + 8, acc31);          \
        _mm256_storeu_ps(TMP[4], acc40); _mm256_storeu_ps(TMP[4] + 8, acc41);          \
        _mm256_storeu_ps(TMP[5], acc50); _mm256_storeu_ps(TMP[5] + 8, acc51);          \
    } while (0)
#endif

#endif /* PYCONV_COMMON_H */
