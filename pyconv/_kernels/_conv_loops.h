/* Inner loops of pyconv's conv kernels (conv.pyx), written in C where the
 * compiler needs `restrict`, `omp simd` or intrinsics to vectorise them:
 *   - Winograd F(2x2, 3x3) and F(4x4, 3x3) tile transforms (input, output,
 *     gradient);
 *   - im2col / col2im of tiles of whole output rows;
 *   - depthwise stride-1 rows (forward, weight gradient) and dot/sum reductions;
 *   - the register-blocked direct convolution (AVX2+FMA build only).
 *
 * Loops marked `omp simd` are vectorised although several output streams
 * share one base pointer (they never overlap). Without OpenMP the pragma is
 * ignored and the loops stay correct, only scalar. The same source serves the
 * baseline build and the AVX2+FMA build (conv_avx2), which differ only in
 * code generation; intrinsics sit behind `#if defined(__AVX2__) && defined(__FMA__)`.
 *
 * Winograd layout: rows of the input are deinterleaved, e[k] = row[2k] and
 * o[k] = row[2k+1], so each 4x4 input tile at tile column tx reads
 * e[tx], o[tx], e[tx+1], o[tx+1] -- unit-stride loads. F(4x4) transforms
 * each zero-padded input row once along the row (stride-4 windows, which the
 * compiler vectorises with shuffles) for all rows of a block in one loop.
 * The output and gradient transforms run over n consecutive tiles: one tile
 * row of the image in place, or all tiles of a block at once through a
 * buffer (tile t = r * tw + tx; row k of tile row r at k * ys + r * tile *
 * tw), whose loops are long even for narrow images.
 */
#ifndef PYCONV_CONV_LOOPS_H
#define PYCONV_CONV_LOOPS_H

#include <stddef.h>

#if defined(_OPENMP)
#define PYCONV_SIMD _Pragma("omp simd")
#else
#define PYCONV_SIMD
#endif

/* The 1-D F(4x4, 3x3) transforms (points 0, 1, -1, 2, -2, inf; Lavin & Gray),
 * applied along rows and then columns of a tile. Each reads its inputs into
 * locals first, so an output may alias an input.
 *   B^T: 6 -> 6 (input),  A^T: 6 -> 4 (output),  A: 4 -> 6 (output gradient). */
#define PYCONV_WINO4_BT(T, i0, i1, i2, i3, i4, i5, o0, o1, o2, o3, o4, o5) do {      \
    T d0_ = (i0), d1_ = (i1), d2_ = (i2), d3_ = (i3), d4_ = (i4), d5_ = (i5);          \
    T a_ = d4_ - 4 * d2_, b_ = d3_ - 4 * d1_, c_ = d4_ - d2_, e_ = 2 * (d3_ - d1_);     \
    (o0) = 4 * d0_ - 5 * d2_ + d4_;                                                    \
    (o1) = a_ + b_; (o2) = a_ - b_; (o3) = c_ + e_; (o4) = c_ - e_;                    \
    (o5) = 4 * d1_ - 5 * d3_ + d5_;                                                    \
} while (0)

#define PYCONV_WINO4_AT(T, i0, i1, i2, i3, i4, i5, o0, o1, o2, o3) do {              \
    T m0_ = (i0), m5_ = (i5);                                                          \
    T p12_ = (i1) + (i2), m12_ = (i1) - (i2), p34_ = (i3) + (i4), m34_ = (i3) - (i4);  \
    (o0) = m0_ + p12_ + p34_;                                                          \
    (o1) = m12_ + 2 * m34_;                                                            \
    (o2) = p12_ + 4 * p34_;                                                            \
    (o3) = m12_ + 8 * m34_ + m5_;                                                      \
} while (0)

#define PYCONV_WINO4_A(T, i0, i1, i2, i3, o0, o1, o2, o3, o4, o5) do {               \
    T y0_ = (i0), y1_ = (i1), y2_ = (i2), y3_ = (i3);                                  \
    T a_ = y0_ + y2_, b_ = y1_ + y3_, c_ = y0_ + 4 * y2_, e_ = 2 * y1_ + 8 * y3_;       \
    (o0) = y0_; (o1) = a_ + b_; (o2) = a_ - b_; (o3) = c_ + e_; (o4) = c_ - e_;        \
    (o5) = y3_;                                                                        \
} while (0)

#define PYCONV_WINO_DEFINE(T, SUF)                                                     \
/* e[k] = src[2k - shift], o[k] = src[2k + 1 - shift], zero outside [0, n). */         \
static void pyconv_wino_deint_##SUF(const T *src, ptrdiff_t n, ptrdiff_t shift,        \
                                    T *e, T *o, ptrdiff_t len)                         \
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
}                                                                                      \
                                                                                       \
/* v[c * es + tx] = (B^T d B)[c] of the tiles of one tile row; rows a = 0..3 of   */   \
/* the tiles are (ea, oa) deinterleaved, each of length tw + 1.                    */   \
static void pyconv_wino_input_##SUF(const T *e0, const T *o0, const T *e1,             \
                                    const T *o1, const T *e2, const T *o2,             \
                                    const T *e3, const T *o3, T *v, ptrdiff_t es,      \
                                    ptrdiff_t tw)                                      \
{                                                                                      \
    ptrdiff_t tx;                                                                      \
    PYCONV_SIMD                                                                        \
    for (tx = 0; tx < tw; tx++) {                                                      \
        T r00 = e0[tx] - e2[tx], r01 = o0[tx] - o2[tx];                                \
        T r02 = e0[tx + 1] - e2[tx + 1], r03 = o0[tx + 1] - o2[tx + 1];                \
        T r10 = e1[tx] + e2[tx], r11 = o1[tx] + o2[tx];                                \
        T r12 = e1[tx + 1] + e2[tx + 1], r13 = o1[tx + 1] + o2[tx + 1];                \
        T r20 = e2[tx] - e1[tx], r21 = o2[tx] - o1[tx];                                \
        T r22 = e2[tx + 1] - e1[tx + 1], r23 = o2[tx + 1] - o1[tx + 1];                \
        T r30 = e1[tx] - e3[tx], r31 = o1[tx] - o3[tx];                                \
        T r32 = e1[tx + 1] - e3[tx + 1], r33 = o1[tx + 1] - o3[tx + 1];                \
        v[tx] = r00 - r02;           v[es + tx] = r01 + r02;                           \
        v[2 * es + tx] = r02 - r01;  v[3 * es + tx] = r01 - r03;                       \
        v[4 * es + tx] = r10 - r12;  v[5 * es + tx] = r11 + r12;                       \
        v[6 * es + tx] = r12 - r11;  v[7 * es + tx] = r11 - r13;                       \
        v[8 * es + tx] = r20 - r22;  v[9 * es + tx] = r21 + r22;                       \
        v[10 * es + tx] = r22 - r21; v[11 * es + tx] = r21 - r23;                      \
        v[12 * es + tx] = r30 - r32; v[13 * es + tx] = r31 + r32;                      \
        v[14 * es + tx] = r32 - r31; v[15 * es + tx] = r31 - r33;                      \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* y0[2 tx + l], y1[2 tx + l] = (A^T m A)[0 or 1][l] + b for tiles tx < tw,   */     \
/* whose component c is at s[c * es + tx].                                     */     \
static void pyconv_wino_output_##SUF(const T *s, ptrdiff_t es, T *y0, T *y1, T b,      \
                                     ptrdiff_t tw)                                     \
{                                                                                      \
    ptrdiff_t tx;                                                                      \
    PYCONV_SIMD                                                                        \
    for (tx = 0; tx < tw; tx++) {                                                      \
        T t0 = s[tx] + s[4 * es + tx] + s[8 * es + tx];                                \
        T t1 = s[es + tx] + s[5 * es + tx] + s[9 * es + tx];                           \
        T t2 = s[2 * es + tx] + s[6 * es + tx] + s[10 * es + tx];                      \
        T t3 = s[3 * es + tx] + s[7 * es + tx] + s[11 * es + tx];                      \
        T u0 = s[4 * es + tx] - s[8 * es + tx] - s[12 * es + tx];                      \
        T u1 = s[5 * es + tx] - s[9 * es + tx] - s[13 * es + tx];                      \
        T u2 = s[6 * es + tx] - s[10 * es + tx] - s[14 * es + tx];                     \
        T u3 = s[7 * es + tx] - s[11 * es + tx] - s[15 * es + tx];                     \
        y0[2 * tx] = t0 + t1 + t2 + b;                                                 \
        y0[2 * tx + 1] = t1 - t2 - t3 + b;                                             \
        y1[2 * tx] = u0 + u1 + u2 + b;                                                 \
        y1[2 * tx + 1] = u1 - u2 - u3 + b;                                             \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* d[c * es + tx] = (A dY A^T)[c] for the 2x2 gradient tiles tx < tw, whose  */     \
/* rows are at g0 + 2 tx and g1 + 2 tx.                                        */     \
static void pyconv_wino_grad_##SUF(const T *g0, const T *g1, T *d, ptrdiff_t es,       \
                                   ptrdiff_t tw)                                       \
{                                                                                      \
    ptrdiff_t tx;                                                                      \
    PYCONV_SIMD                                                                        \
    for (tx = 0; tx < tw; tx++) {                                                      \
        T g00 = g0[2 * tx], g01 = g0[2 * tx + 1];                                      \
        T g10 = g1[2 * tx], g11 = g1[2 * tx + 1];                                      \
        T s2 = g00 + g10, s3 = g01 + g11, s4 = g00 - g10, s5 = g01 - g11;              \
        d[tx] = g00;                  d[es + tx] = g00 + g01;                          \
        d[2 * es + tx] = g00 - g01;   d[3 * es + tx] = -g01;                           \
        d[4 * es + tx] = s2;          d[5 * es + tx] = s2 + s3;                        \
        d[6 * es + tx] = s2 - s3;     d[7 * es + tx] = -s3;                            \
        d[8 * es + tx] = s4;          d[9 * es + tx] = s4 + s5;                        \
        d[10 * es + tx] = s4 - s5;    d[11 * es + tx] = -s5;                           \
        d[12 * es + tx] = -g10;       d[13 * es + tx] = -g10 - g11;                    \
        d[14 * es + tx] = g11 - g10;  d[15 * es + tx] = g11;                           \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* F(4x4): the 6-wide windows at x + 4 t, transformed along the row:         */       \
/* h[j * hs + t] = (B^T d)[j] for t < n (x zero-padded, 4 n + 2 long).        */       \
static void pyconv_wino4_row_##SUF(const T *x, T *h, ptrdiff_t hs, ptrdiff_t n)        \
{                                                                                      \
    ptrdiff_t t;                                                                       \
    PYCONV_SIMD                                                                        \
    for (t = 0; t < n; t++) {                                                          \
        const T *d = x + 4 * t;                                                        \
        PYCONV_WINO4_BT(T, d[0], d[1], d[2], d[3], d[4], d[5], h[t], h[hs + t],        \
                        h[2 * hs + t], h[3 * hs + t], h[4 * hs + t], h[5 * hs + t]);   \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* F(4x4): v[(6 i + j) * es + tx] = (B^T d B)[i][j] of the tiles of one tile   */      \
/* row, from the row transforms of its 6 input rows: component j of input row */       \
/* a at h[j * hs + a * rs + tx].                                               */      \
static void pyconv_wino4_input_##SUF(const T *h, ptrdiff_t hs, ptrdiff_t rs, T *v,     \
                                     ptrdiff_t es, ptrdiff_t tw)                       \
{                                                                                      \
    ptrdiff_t j, tx;                                                                   \
    for (j = 0; j < 6; j++) {                                                          \
        const T *r = h + j * hs;                                                       \
        T *w = v + j * es;                                                             \
        PYCONV_SIMD                                                                    \
        for (tx = 0; tx < tw; tx++) {                                                  \
            PYCONV_WINO4_BT(T, r[tx], r[rs + tx], r[2 * rs + tx], r[3 * rs + tx],      \
                            r[4 * rs + tx], r[5 * rs + tx], w[tx], w[6 * es + tx],     \
                            w[12 * es + tx], w[18 * es + tx], w[24 * es + tx],         \
                            w[30 * es + tx]);                                          \
        }                                                                              \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* F(4x4): y[k * ys + 4 t + l] = (A^T m A)[k][l] + b for tiles t < n, whose   */       \
/* component (i, j) is at s[(6 i + j) * es + t].                              */       \
static void pyconv_wino4_output_##SUF(const T *s, ptrdiff_t es, T *y, ptrdiff_t ys,    \
                                      T b, ptrdiff_t n)                                \
{                                                                                      \
    ptrdiff_t t;                                                                       \
    PYCONV_SIMD                                                                        \
    for (t = 0; t < n; t++) {                                                          \
        T c[4][6];                                                                     \
        int j, k;                                                                      \
        for (j = 0; j < 6; j++) {                                                      \
            const T *m = s + j * es + t;                                               \
            PYCONV_WINO4_AT(T, m[0], m[6 * es], m[12 * es], m[18 * es], m[24 * es],    \
                            m[30 * es], c[0][j], c[1][j], c[2][j], c[3][j]);           \
        }                                                                              \
        for (k = 0; k < 4; k++) {                                                      \
            T *o = y + k * ys + 4 * t;                                                 \
            PYCONV_WINO4_AT(T, c[k][0], c[k][1], c[k][2], c[k][3], c[k][4], c[k][5],   \
                            o[0], o[1], o[2], o[3]);                                   \
            o[0] += b; o[1] += b; o[2] += b; o[3] += b;                                \
        }                                                                              \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* F(4x4): d[(6 i + j) * es + t] = (A dY A^T)[i][j] for tiles t < n, whose    */       \
/* gradient rows k are at g + k * gs + 4 t (4 wide).                          */       \
static void pyconv_wino4_grad_##SUF(const T *g, ptrdiff_t gs, T *d, ptrdiff_t es,      \
                                    ptrdiff_t n)                                       \
{                                                                                      \
    ptrdiff_t t;                                                                       \
    PYCONV_SIMD                                                                        \
    for (t = 0; t < n; t++) {                                                          \
        T r[4][6];                                                                     \
        int j, k;                                                                      \
        for (k = 0; k < 4; k++) {                                                      \
            const T *q = g + k * gs + 4 * t;                                           \
            PYCONV_WINO4_A(T, q[0], q[1], q[2], q[3], r[k][0], r[k][1], r[k][2],       \
                           r[k][3], r[k][4], r[k][5]);                                 \
        }                                                                              \
        for (j = 0; j < 6; j++) {                                                      \
            T *o = d + j * es + t;                                                     \
            PYCONV_WINO4_A(T, r[0][j], r[1][j], r[2][j], r[3][j], o[0], o[6 * es],     \
                           o[12 * es], o[18 * es], o[24 * es], o[30 * es]);            \
        }                                                                              \
    }                                                                                  \
}

PYCONV_WINO_DEFINE(float, f)
PYCONV_WINO_DEFINE(double, d)

#if defined(_MSC_VER)
#define PYCONV_RESTRICT __restrict
#else
#define PYCONV_RESTRICT __restrict__
#endif

/* im2col of a tile of whole output rows oh0 .. oh0+rows of one image group:
 * col[(c*kh + i)*kw + j][r*Wo + ow] = x[c][(oh0+r)*sh - ph + i*dh][ow*sw - pw + j*dw]
 * (zero outside the image). `restrict` lets the compiler vectorise the copies
 * without run-time overlap checks, which dominate for short rows. */
#if defined(__GNUC__) && !defined(__clang__)
/* Keep the short row copies inline: gcc would turn them into memcpy/memset
 * calls, whose overhead dominates rows of 10-32 elements. */
#define PYCONV_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PYCONV_NO_LIBCALLS
#endif

/* Stride-2 gather dst[t] = src[2t] for t in [lo, hi), eight at a time: one
 * load of src[2t .. 2t+7], one of src[2t+7 .. 2t+14] (shifted back by one so
 * that it ends on the last element needed, never past the image row), and a
 * shuffle of their even elements. A row that is not a multiple of 8 long
 * ends with one overlapping block (same values written twice). AVX2 float
 * only; returns the first t not done (the caller finishes with scalar
 * code). n_src is unused: every load stays inside [src[2lo], src[2(hi-1)]]. */
#if defined(__AVX2__)
#include <immintrin.h>
static inline __m256 pyconv_even8(const float *p)
{
    __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 7);
    __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}
static ptrdiff_t pyconv_gather2_f(const float *src, float *dst, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t sw, ptrdiff_t n_src)
{
    ptrdiff_t t = lo;
    (void)n_src;
    if (sw != 2 || hi - lo < 8) return lo;
    for (; t + 8 <= hi; t += 8) _mm256_storeu_ps(dst + t, pyconv_even8(src + 2 * t));
    if (t < hi) _mm256_storeu_ps(dst + hi - 8, pyconv_even8(src + 2 * (hi - 8)));
    return hi;
}
#else
static ptrdiff_t pyconv_gather2_f(const float *src, float *dst, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t sw, ptrdiff_t n_src)
{
    (void)src; (void)dst; (void)hi; (void)sw; (void)n_src;
    return lo;
}
#endif
static ptrdiff_t pyconv_gather2_d(const double *src, double *dst, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t sw, ptrdiff_t n_src)
{
    (void)src; (void)dst; (void)hi; (void)sw; (void)n_src;
    return lo;
}
#define PYCONV_GATHER2_f pyconv_gather2_f
#define PYCONV_GATHER2_d pyconv_gather2_d

/* The adjoint, dst[2t] += src[t] for t in [lo, hi), eight at a time: the
 * eight values are spread over the even lanes of two vectors (zeros in the
 * odd ones) and added to dst[2t .. 2t+7] and dst[2t+7 .. 2t+14] -- the
 * second shifted back one element, as in the gather, so nothing past
 * dst[2(hi-1)] is touched. Both are loaded before either is stored: their
 * shared element dst[2t+7] (odd) then gets its old value + 0.0 from both
 * stores, and no load waits on a partly overlapping store. Odd elements keep
 * their value (a -0.0 becomes +0.0). One image belongs to one thread, so the
 * read-modify-write of the odd lanes races with nothing. */
#if defined(__AVX2__)
static ptrdiff_t pyconv_scatter2_f(const float *src, float *dst, ptrdiff_t lo, ptrdiff_t hi,
                                   ptrdiff_t sw, ptrdiff_t n_dst)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256i up1 = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
    ptrdiff_t t = lo;
    (void)n_dst;
    if (sw != 2) return lo;
    for (; t + 8 <= hi; t += 8) {
        __m256 v = _mm256_loadu_ps(src + t);
        __m256 a = _mm256_unpacklo_ps(v, z), b = _mm256_unpackhi_ps(v, z);
        __m256 e0 = _mm256_permute2f128_ps(a, b, 0x20);   /* v0 0 v1 0 v2 0 v3 0 */
        __m256 e1 = _mm256_permutevar8x32_ps(              /* 0 v4 0 v5 0 v6 0 v7 */
            _mm256_permute2f128_ps(a, b, 0x31), up1);
        __m256 d0 = _mm256_loadu_ps(dst + 2 * t), d1 = _mm256_loadu_ps(dst + 2 * t + 7);
        _mm256_storeu_ps(dst + 2 * t, _mm256_add_ps(d0, e0));
        _mm256_storeu_ps(dst + 2 * t + 7, _mm256_add_ps(d1, e1));
    }
    return t;
}
#else
static ptrdiff_t pyconv_scatter2_f(const float *src, float *dst, ptrdiff_t lo, ptrdiff_t hi,
                                   ptrdiff_t sw, ptrdiff_t n_dst)
{
    (void)src; (void)dst; (void)hi; (void)sw; (void)n_dst;
    return lo;
}
#endif
static ptrdiff_t pyconv_scatter2_d(const double *src, double *dst, ptrdiff_t lo, ptrdiff_t hi,
                                   ptrdiff_t sw, ptrdiff_t n_dst)
{
    (void)src; (void)dst; (void)hi; (void)sw; (void)n_dst;
    return lo;
}
#define PYCONV_SCATTER2_f pyconv_scatter2_f
#define PYCONV_SCATTER2_d pyconv_scatter2_d

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

#define PYCONV_IM2COL_DEFINE(T, SUF)                                                   \
PYCONV_NO_LIBCALLS                                                                     \
static void pyconv_im2col_rows_##SUF(const T *PYCONV_RESTRICT x, T *PYCONV_RESTRICT col, \
        ptrdiff_t Cg, ptrdiff_t H, ptrdiff_t W, ptrdiff_t kh, ptrdiff_t kw,            \
        ptrdiff_t sh, ptrdiff_t sw, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t dh,          \
        ptrdiff_t dw, ptrdiff_t Wo, ptrdiff_t oh0, ptrdiff_t rows)                     \
{                                                                                      \
    ptrdiff_t c, i, j, r, t, ih, iw0, lo, hi, pt = rows * Wo;                          \
    for (c = 0; c < Cg; c++)                                                           \
    for (i = 0; i < kh; i++)                                                           \
    for (j = 0; j < kw; j++) {                                                         \
        T *PYCONV_RESTRICT dst = col + ((c * kh + i) * kw + j) * pt;                   \
        iw0 = j * dw - pw;                                                             \
        /* output columns whose input column iw0 + t*sw lies in [0, W) */              \
        lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;                                      \
        if (lo > Wo) lo = Wo;                                                          \
        hi = iw0 >= W ? 0 : (W - 1 - iw0) / sw + 1;                                    \
        if (hi > Wo) hi = Wo;                                                          \
        if (hi < lo) hi = lo;                                                          \
        for (r = 0; r < rows; r++, dst += Wo) {                                        \
            ih = (oh0 + r) * sh - ph + i * dh;                                         \
            if (ih < 0 || ih >= H) {                                                   \
                for (t = 0; t < Wo; t++) dst[t] = 0;                                   \
                continue;                                                              \
            }                                                                          \
            {                                                                          \
                const T *PYCONV_RESTRICT src = x + (c * H + ih) * W + iw0;             \
                for (t = 0; t < lo; t++) dst[t] = 0;                                   \
                if (sw == 1) {                                                         \
                    for (t = lo; t < hi; t++) dst[t] = src[t];                         \
                } else {                                                               \
                    t = PYCONV_GATHER2_##SUF(src, dst, lo, hi, sw, W - iw0);              \
                    for (; t < hi; t++) dst[t] = src[t * sw];                          \
                }                                                                      \
                for (t = hi; t < Wo; t++) dst[t] = 0;                                  \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
}

PYCONV_IM2COL_DEFINE(float, f)
PYCONV_IM2COL_DEFINE(double, d)

/* Adjoint of pyconv_im2col_rows: add col back onto the image gradient gx. */
#define PYCONV_COL2IM_DEFINE(T, SUF)                                                   \
PYCONV_NO_LIBCALLS                                                                     \
static void pyconv_col2im_rows_##SUF(const T *PYCONV_RESTRICT col,                     \
        T *PYCONV_RESTRICT gx, ptrdiff_t Cg, ptrdiff_t H, ptrdiff_t W, ptrdiff_t kh,   \
        ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t sw, ptrdiff_t ph, ptrdiff_t pw,          \
        ptrdiff_t dh, ptrdiff_t dw, ptrdiff_t Wo, ptrdiff_t oh0, ptrdiff_t rows)       \
{                                                                                      \
    ptrdiff_t c, i, j, r, t, ih, iw0, lo, hi, pt = rows * Wo;                          \
    for (c = 0; c < Cg; c++)                                                           \
    for (i = 0; i < kh; i++)                                                           \
    for (j = 0; j < kw; j++) {                                                         \
        const T *PYCONV_RESTRICT src = col + ((c * kh + i) * kw + j) * pt;             \
        iw0 = j * dw - pw;                                                             \
        lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;                                      \
        if (lo > Wo) lo = Wo;                                                          \
        hi = iw0 >= W ? 0 : (W - 1 - iw0) / sw + 1;                                    \
        if (hi > Wo) hi = Wo;                                                          \
        if (hi < lo) hi = lo;                                                          \
        for (r = 0; r < rows; r++, src += Wo) {                                        \
            ih = (oh0 + r) * sh - ph + i * dh;                                         \
            if (ih < 0 || ih >= H) continue;                                           \
            {                                                                          \
                T *PYCONV_RESTRICT dst = gx + (c * H + ih) * W + iw0;                  \
                if (sw == 1) {                                                         \
                    for (t = lo; t < hi; t++) dst[t] += src[t];                        \
                } else {                                                               \
                    t = PYCONV_SCATTER2_##SUF(src, dst, lo, hi, sw, W - iw0);           \
                    for (; t < hi; t++) dst[t * sw] += src[t];                         \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
}

PYCONV_COL2IM_DEFINE(float, f)
PYCONV_COL2IM_DEFINE(double, d)

/* Dot product of a[0..n) and b[0, sb, 2 sb, ...) in lanes (a fixed order
 * for a given build, independent of the thread count), and a plain sum
 * accumulated in double. Used by the depthwise weight gradient. */
#if defined(_OPENMP)
#define PYCONV_SIMD_SUM_ACC _Pragma("omp simd reduction(+:acc)")
#else
#define PYCONV_SIMD_SUM_ACC
#endif

#define PYCONV_DOT_DEFINE(T, SUF)                                                      \
static T pyconv_dot_##SUF(const T *a, const T *b, ptrdiff_t n, ptrdiff_t sb)           \
{                                                                                      \
    ptrdiff_t t;                                                                       \
    T acc = 0;                                                                         \
    if (sb == 1) {                                                                     \
        PYCONV_SIMD_SUM_ACC                                                           \
        for (t = 0; t < n; t++) acc += a[t] * b[t];                                    \
    } else {                                                                           \
        PYCONV_SIMD_SUM_ACC                                                           \
        for (t = 0; t < n; t++) acc += a[t] * b[t * sb];                               \
    }                                                                                  \
    return acc;                                                                        \
}                                                                                      \
static double pyconv_sum_##SUF(const T *a, ptrdiff_t n)                                \
{                                                                                      \
    ptrdiff_t t;                                                                       \
    double acc = 0;                                                                    \
    PYCONV_SIMD_SUM_ACC                                                               \
    for (t = 0; t < n; t++) acc += a[t];                                               \
    return acc;                                                                        \
}

PYCONV_DOT_DEFINE(float, f)
PYCONV_DOT_DEFINE(double, d)

/* Depthwise stride-1 convolution of one zero-padded channel image:
 * out[oh][t] = b + sum_{i,j} w[i*kw + j] * xp[(oh + i*dh) * Wp + t + j*dw]
 * for oh < Ho, t < Wo; every tap of a row is accumulated in registers
 * (vectorised over t), one store per output. */
#define PYCONV_DW_DEFINE(T, SUF)                                                       \
static void pyconv_dw_rows_##SUF(const T *PYCONV_RESTRICT xp, ptrdiff_t Wp,            \
        const T *PYCONV_RESTRICT w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t dh,          \
        ptrdiff_t dw, T b, T *PYCONV_RESTRICT out, ptrdiff_t Ho, ptrdiff_t Wo)          \
{                                                                                      \
    ptrdiff_t oh, t, i, j;                                                             \
    for (oh = 0; oh < Ho; oh++) {                                                      \
        T *PYCONV_RESTRICT orow = out + oh * Wo;                                       \
        if (kh == 3 && kw == 3) {                                                      \
            const T *r0 = xp + oh * Wp, *r1 = r0 + dh * Wp, *r2 = r1 + dh * Wp;        \
            T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5];        \
            T w6 = w[6], w7 = w[7], w8 = w[8];                                         \
            PYCONV_SIMD                                                                \
            for (t = 0; t < Wo; t++) {                                                 \
                orow[t] = b + w0 * r0[t] + w1 * r0[t + dw] + w2 * r0[t + 2 * dw]       \
                            + w3 * r1[t] + w4 * r1[t + dw] + w5 * r1[t + 2 * dw]       \
                            + w6 * r2[t] + w7 * r2[t + dw] + w8 * r2[t + 2 * dw];      \
            }                                                                          \
            continue;                                                                  \
        }                                                                              \
        for (t = 0; t < Wo; t++) orow[t] = b;                                          \
        for (i = 0; i < kh; i++) {                                                     \
            const T *r = xp + (oh + i * dh) * Wp;                                      \
            for (j = 0; j < kw; j++) {                                                 \
                const T *rj = r + j * dw;                                              \
                T wv = w[i * kw + j];                                                  \
                PYCONV_SIMD                                                            \
                for (t = 0; t < Wo; t++) orow[t] += wv * rj[t];                        \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
}

PYCONV_DW_DEFINE(float, f)
PYCONV_DW_DEFINE(double, d)

/* Depthwise stride-1 weight gradient, one zero-padded channel image:
 * lanes[(i*kw + j)*Wo + t] += sum_oh g[oh*Wo + t] * xp[(oh + i*dh)*Wp + t + j*dw]
 * (one accumulator per tap and output column; the caller sums the lanes). */
/* 3x3 depthwise weight gradient, float, AVX2+FMA: the nine taps' sums for
 * eight output columns stay in registers over all rows (one gradient load,
 * nine input loads and nine FMAs per row), instead of nine lane loads and
 * stores per row. Each lane still sums its rows in order, so the result is
 * the generic loop's. Columns past the last multiple of 8 are left to it
 * (returns the first column not done). */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
static ptrdiff_t pyconv_dw_wgrad3_f(const float *xp, ptrdiff_t Wp, const float *g,
                                    ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t dh, ptrdiff_t dw,
                                    float *lanes)
{
    ptrdiff_t t0, oh;
    for (t0 = 0; t0 + 8 <= Wo; t0 += 8) {
        float *l = lanes + t0;
        __m256 a0 = _mm256_loadu_ps(l), a1 = _mm256_loadu_ps(l + Wo);
        __m256 a2 = _mm256_loadu_ps(l + 2 * Wo), a3 = _mm256_loadu_ps(l + 3 * Wo);
        __m256 a4 = _mm256_loadu_ps(l + 4 * Wo), a5 = _mm256_loadu_ps(l + 5 * Wo);
        __m256 a6 = _mm256_loadu_ps(l + 6 * Wo), a7 = _mm256_loadu_ps(l + 7 * Wo);
        __m256 a8 = _mm256_loadu_ps(l + 8 * Wo);
        for (oh = 0; oh < Ho; oh++) {
            const float *r0 = xp + oh * Wp + t0, *r1 = r0 + dh * Wp, *r2 = r1 + dh * Wp;
            __m256 gv = _mm256_loadu_ps(g + oh * Wo + t0);
            a0 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r0), a0);
            a1 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r0 + dw), a1);
            a2 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r0 + 2 * dw), a2);
            a3 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r1), a3);
            a4 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r1 + dw), a4);
            a5 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r1 + 2 * dw), a5);
            a6 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r2), a6);
            a7 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r2 + dw), a7);
            a8 = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r2 + 2 * dw), a8);
        }
        _mm256_storeu_ps(l, a0); _mm256_storeu_ps(l + Wo, a1);
        _mm256_storeu_ps(l + 2 * Wo, a2); _mm256_storeu_ps(l + 3 * Wo, a3);
        _mm256_storeu_ps(l + 4 * Wo, a4); _mm256_storeu_ps(l + 5 * Wo, a5);
        _mm256_storeu_ps(l + 6 * Wo, a6); _mm256_storeu_ps(l + 7 * Wo, a7);
        _mm256_storeu_ps(l + 8 * Wo, a8);
    }
    return t0;
}
#else
static ptrdiff_t pyconv_dw_wgrad3_f(const float *xp, ptrdiff_t Wp, const float *g,
                                    ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t dh, ptrdiff_t dw,
                                    float *lanes)
{
    (void)xp; (void)Wp; (void)g; (void)Ho; (void)Wo; (void)dh; (void)dw; (void)lanes;
    return 0;
}
#endif
static ptrdiff_t pyconv_dw_wgrad3_d(const double *xp, ptrdiff_t Wp, const double *g,
                                    ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t dh, ptrdiff_t dw,
                                    double *lanes)
{
    (void)xp; (void)Wp; (void)g; (void)Ho; (void)Wo; (void)dh; (void)dw; (void)lanes;
    return 0;
}

#define PYCONV_DWW_DEFINE(T, SUF)                                                      \
static void pyconv_dw_wgrad_##SUF(const T *PYCONV_RESTRICT xp, ptrdiff_t Wp,           \
        const T *PYCONV_RESTRICT g, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t kh,          \
        ptrdiff_t kw, ptrdiff_t dh, ptrdiff_t dw, T *PYCONV_RESTRICT lanes)            \
{                                                                                      \
    ptrdiff_t oh, t, i, j, t_done = 0;                                                 \
    if (kh == 3 && kw == 3)                                                            \
        t_done = pyconv_dw_wgrad3_##SUF(xp, Wp, g, Ho, Wo, dh, dw, lanes);             \
    if (t_done == Wo) return;                                                          \
    for (oh = 0; oh < Ho; oh++) {                                                      \
        const T *PYCONV_RESTRICT grow = g + oh * Wo;                                   \
        if (kh == 3 && kw == 3) {                                                      \
            const T *r0 = xp + oh * Wp, *r1 = r0 + dh * Wp, *r2 = r1 + dh * Wp;        \
            T *l0 = lanes, *l1 = l0 + Wo, *l2 = l1 + Wo, *l3 = l2 + Wo, *l4 = l3 + Wo; \
            T *l5 = l4 + Wo, *l6 = l5 + Wo, *l7 = l6 + Wo, *l8 = l7 + Wo;              \
            PYCONV_SIMD                                                                \
            for (t = t_done; t < Wo; t++) {                                            \
                T gv = grow[t];                                                        \
                l0[t] += gv * r0[t]; l1[t] += gv * r0[t + dw]; l2[t] += gv * r0[t + 2 * dw]; \
                l3[t] += gv * r1[t]; l4[t] += gv * r1[t + dw]; l5[t] += gv * r1[t + 2 * dw]; \
                l6[t] += gv * r2[t]; l7[t] += gv * r2[t + dw]; l8[t] += gv * r2[t + 2 * dw]; \
            }                                                                          \
            continue;                                                                  \
        }                                                                              \
        for (i = 0; i < kh; i++) {                                                     \
            const T *r = xp + (oh + i * dh) * Wp;                                      \
            for (j = 0; j < kw; j++) {                                                 \
                const T *rj = r + j * dw;                                              \
                T *lane = lanes + (i * kw + j) * Wo;                                   \
                PYCONV_SIMD                                                            \
                for (t = 0; t < Wo; t++) lane[t] += grow[t] * rj[t];                   \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
}

PYCONV_DWW_DEFINE(float, f)
PYCONV_DWW_DEFINE(double, d)

/* Direct stride-1 convolution of one zero-padded image, register-blocked:
 * 16 output channels (two AVX2 vectors of packed weights) x 6 output
 * positions (12 accumulators; input values broadcast). The positions run
 * over the flattened output grid, each with its own base pointer into the
 * padded image, and `offs[k]` is the offset of tap k = (c, i, j) -- so no
 * lane is wasted on short rows. xp is [C][Hp][Wp]; wpk is [M/16][K][16];
 * out is [M][Ho][Wo]. Only the AVX2+FMA build has it. */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PYCONV_HAVE_DIRECT_AVX2 1
static void pyconv_direct16_f(const float *PYCONV_RESTRICT xp, ptrdiff_t Wp,
        const ptrdiff_t *PYCONV_RESTRICT offs, ptrdiff_t K,
        const float *PYCONV_RESTRICT wpk, ptrdiff_t M, const float *bias, int has_bias,
        float *PYCONV_RESTRICT out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    ptrdiff_t P = Ho * Wo, mb, p0, q, k, np;
    const float *base[6];
    float tmp[6][16];
    for (mb = 0; mb < M / 16; mb++) {
        const float *wb = wpk + mb * K * 16;
        __m256 b0 = has_bias ? _mm256_loadu_ps(bias + mb * 16) : _mm256_setzero_ps();
        __m256 b1 = has_bias ? _mm256_loadu_ps(bias + mb * 16 + 8) : _mm256_setzero_ps();
        for (p0 = 0; p0 < P; p0 += 6) {
            np = P - p0 < 6 ? P - p0 : 6;
            for (q = 0; q < 6; q++) {
                ptrdiff_t pq = p0 + (q < np ? q : 0);
                base[q] = xp + (pq / Wo) * Wp + pq % Wo;
            }
            {
                const float *x0 = base[0], *x1 = base[1], *x2 = base[2];
                const float *x3 = base[3], *x4 = base[4], *x5 = base[5];
                __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1;
                __m256 a30 = b0, a31 = b1, a40 = b0, a41 = b1, a50 = b0, a51 = b1;
                const float *wv = wb;
                for (k = 0; k < K; k++, wv += 16) {
                    ptrdiff_t o = offs[k];
                    __m256 w0 = _mm256_loadu_ps(wv), w1 = _mm256_loadu_ps(wv + 8);
                    __m256 v;
                    v = _mm256_broadcast_ss(x0 + o);
                    a00 = _mm256_fmadd_ps(v, w0, a00); a01 = _mm256_fmadd_ps(v, w1, a01);
                    v = _mm256_broadcast_ss(x1 + o);
                    a10 = _mm256_fmadd_ps(v, w0, a10); a11 = _mm256_fmadd_ps(v, w1, a11);
                    v = _mm256_broadcast_ss(x2 + o);
                    a20 = _mm256_fmadd_ps(v, w0, a20); a21 = _mm256_fmadd_ps(v, w1, a21);
                    v = _mm256_broadcast_ss(x3 + o);
                    a30 = _mm256_fmadd_ps(v, w0, a30); a31 = _mm256_fmadd_ps(v, w1, a31);
                    v = _mm256_broadcast_ss(x4 + o);
                    a40 = _mm256_fmadd_ps(v, w0, a40); a41 = _mm256_fmadd_ps(v, w1, a41);
                    v = _mm256_broadcast_ss(x5 + o);
                    a50 = _mm256_fmadd_ps(v, w0, a50); a51 = _mm256_fmadd_ps(v, w1, a51);
                }
                _mm256_storeu_ps(tmp[0], a00); _mm256_storeu_ps(tmp[0] + 8, a01);
                _mm256_storeu_ps(tmp[1], a10); _mm256_storeu_ps(tmp[1] + 8, a11);
                _mm256_storeu_ps(tmp[2], a20); _mm256_storeu_ps(tmp[2] + 8, a21);
                _mm256_storeu_ps(tmp[3], a30); _mm256_storeu_ps(tmp[3] + 8, a31);
                _mm256_storeu_ps(tmp[4], a40); _mm256_storeu_ps(tmp[4] + 8, a41);
                _mm256_storeu_ps(tmp[5], a50); _mm256_storeu_ps(tmp[5] + 8, a51);
            }
            for (k = 0; k < 16; k++) {
                float *o = out + (mb * 16 + k) * P + p0;
                for (q = 0; q < np; q++) o[q] = tmp[q][k];
            }
        }
    }
}
/* Weight gradient of the same convolution for one image, register-blocked:
 * gw[m][k] += sum_p gyT[p][m] * xp[offs[k] + base(p)] for 16 channels x 6
 * taps (12 accumulators) at a time; gyT is grad_output transposed to
 * [Ho*Wo][M]; gw is [M][K]. Sums run over p in order (deterministic). */
static void pyconv_direct16_wgrad_f(const float *PYCONV_RESTRICT xp, ptrdiff_t Wp,
        const ptrdiff_t *PYCONV_RESTRICT offs, ptrdiff_t K,
        const float *PYCONV_RESTRICT gyT, ptrdiff_t M, ptrdiff_t Ho, ptrdiff_t Wo,
        float *PYCONV_RESTRICT gw)
{
    ptrdiff_t mb, k0, kk, nk, oh, ow, l;
    float tmp[6][16];
    for (mb = 0; mb < M / 16; mb++) {
        for (k0 = 0; k0 < K; k0 += 6) {
            nk = K - k0 < 6 ? K - k0 : 6;
            {
                ptrdiff_t o0 = offs[k0], o1 = offs[k0 + (nk > 1 ? 1 : 0)];
                ptrdiff_t o2 = offs[k0 + (nk > 2 ? 2 : 0)], o3 = offs[k0 + (nk > 3 ? 3 : 0)];
                ptrdiff_t o4 = offs[k0 + (nk > 4 ? 4 : 0)], o5 = offs[k0 + (nk > 5 ? 5 : 0)];
                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
                __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                __m256 a40 = a00, a41 = a00, a50 = a00, a51 = a00;
                for (oh = 0; oh < Ho; oh++) {
                    const float *xr = xp + oh * Wp;
                    const float *g = gyT + oh * Wo * M + mb * 16;
                    for (ow = 0; ow < Wo; ow++, g += M) {
                        const float *b = xr + ow;
                        __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8), v;
                        v = _mm256_broadcast_ss(b + o0);
                        a00 = _mm256_fmadd_ps(v, g0, a00); a01 = _mm256_fmadd_ps(v, g1, a01);
                        v = _mm256_broadcast_ss(b + o1);
                        a10 = _mm256_fmadd_ps(v, g0, a10); a11 = _mm256_fmadd_ps(v, g1, a11);
                        v = _mm256_broadcast_ss(b + o2);
                        a20 = _mm256_fmadd_ps(v, g0, a20); a21 = _mm256_fmadd_ps(v, g1, a21);
                        v = _mm256_broadcast_ss(b + o3);
                        a30 = _mm256_fmadd_ps(v, g0, a30); a31 = _mm256_fmadd_ps(v, g1, a31);
                        v = _mm256_broadcast_ss(b + o4);
                        a40 = _mm256_fmadd_ps(v, g0, a40); a41 = _mm256_fmadd_ps(v, g1, a41);
                        v = _mm256_broadcast_ss(b + o5);
                        a50 = _mm256_fmadd_ps(v, g0, a50); a51 = _mm256_fmadd_ps(v, g1, a51);
                    }
                }
                _mm256_storeu_ps(tmp[0], a00); _mm256_storeu_ps(tmp[0] + 8, a01);
                _mm256_storeu_ps(tmp[1], a10); _mm256_storeu_ps(tmp[1] + 8, a11);
                _mm256_storeu_ps(tmp[2], a20); _mm256_storeu_ps(tmp[2] + 8, a21);
                _mm256_storeu_ps(tmp[3], a30); _mm256_storeu_ps(tmp[3] + 8, a31);
                _mm256_storeu_ps(tmp[4], a40); _mm256_storeu_ps(tmp[4] + 8, a41);
                _mm256_storeu_ps(tmp[5], a50); _mm256_storeu_ps(tmp[5] + 8, a51);
            }
            for (kk = 0; kk < nk; kk++)
                for (l = 0; l < 16; l++)
                    gw[(mb * 16 + l) * K + k0 + kk] += tmp[kk][l];
        }
    }
}
/* Direct stride-1 convolution of one zero-padded image for few output
 * channels (M <= 8), vectorised over output width instead: 8 consecutive
 * outputs of a row x 8 channels (8 accumulators; weights broadcast from
 * w8 = [K][8], zero beyond M); for M <= 6, 16 outputs x 6 channels (12
 * accumulators). xp is [C][Hp][Wp] plus 16 floats of slack (the last
 * vectors of a row may read past its end; those lanes are never stored);
 * out is [M][Ho][Wo]. Each output sums its taps in k order, then
 * adds the bias. */
static void pyconv_direct_w8_f(const float *PYCONV_RESTRICT xp, ptrdiff_t Wp,
        const ptrdiff_t *PYCONV_RESTRICT offs, ptrdiff_t K,
        const float *PYCONV_RESTRICT w8, ptrdiff_t M, const float *bias, int has_bias,
        int relu, float *PYCONV_RESTRICT out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    ptrdiff_t oh, x0, k, m, t, nx;
    float tmp[8][8];
    if (M <= 6) {
        /* 16 outputs of a row x 6 channels: 12 accumulators, and each
         * broadcast weight feeds two FMAs */
        float tmp2[6][16];
        for (oh = 0; oh < Ho; oh++) {
            for (x0 = 0; x0 < Wo; x0 += 16) {
                const float *b = xp + oh * Wp + x0;
                const float *wv = w8;
                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
                __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                __m256 a40 = a00, a41 = a00, a50 = a00, a51 = a00;
                for (k = 0; k < K; k++, wv += 8) {
                    const float *bk = b + offs[k];
                    __m256 v0 = _mm256_loadu_ps(bk), v1 = _mm256_loadu_ps(bk + 8), w;
                    w = _mm256_broadcast_ss(wv + 0);
                    a00 = _mm256_fmadd_ps(w, v0, a00); a01 = _mm256_fmadd_ps(w, v1, a01);
                    w = _mm256_broadcast_ss(wv + 1);
                    a10 = _mm256_fmadd_ps(w, v0, a10); a11 = _mm256_fmadd_ps(w, v1, a11);
                    w = _mm256_broadcast_ss(wv + 2);
                    a20 = _mm256_fmadd_ps(w, v0, a20); a21 = _mm256_fmadd_ps(w, v1, a21);
                    w = _mm256_broadcast_ss(wv + 3);
                    a30 = _mm256_fmadd_ps(w, v0, a30); a31 = _mm256_fmadd_ps(w, v1, a31);
                    w = _mm256_broadcast_ss(wv + 4);
                    a40 = _mm256_fmadd_ps(w, v0, a40); a41 = _mm256_fmadd_ps(w, v1, a41);
                    w = _mm256_broadcast_ss(wv + 5);
                    a50 = _mm256_fmadd_ps(w, v0, a50); a51 = _mm256_fmadd_ps(w, v1, a51);
                }
                _mm256_storeu_ps(tmp2[0], a00); _mm256_storeu_ps(tmp2[0] + 8, a01);
                _mm256_storeu_ps(tmp2[1], a10); _mm256_storeu_ps(tmp2[1] + 8, a11);
                _mm256_storeu_ps(tmp2[2], a20); _mm256_storeu_ps(tmp2[2] + 8, a21);
                _mm256_storeu_ps(tmp2[3], a30); _mm256_storeu_ps(tmp2[3] + 8, a31);
                _mm256_storeu_ps(tmp2[4], a40); _mm256_storeu_ps(tmp2[4] + 8, a41);
                _mm256_storeu_ps(tmp2[5], a50); _mm256_storeu_ps(tmp2[5] + 8, a51);
                nx = Wo - x0 < 16 ? Wo - x0 : 16;
                for (m = 0; m < M; m++) {
                    float *o = out + (m * Ho + oh) * Wo + x0;
                    float bm = has_bias ? bias[m] : 0.0f;
                    for (t = 0; t < nx; t++) o[t] = tmp2[m][t] + bm;
                    if (relu)  /* as np.maximum(o, 0): NaN kept, -0.0 -> 0.0 */
                        for (t = 0; t < nx; t++) o[t] = (o[t] > 0.0f || o[t] != o[t]) ? o[t] : 0.0f;
                }
            }
        }
        return;
    }
    for (oh = 0; oh < Ho; oh++) {
        for (x0 = 0; x0 < Wo; x0 += 8) {
            const float *b = xp + oh * Wp + x0;
            const float *wv = w8;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m256 a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (k = 0; k < K; k++, wv += 8) {
                __m256 v = _mm256_loadu_ps(b + offs[k]);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 0), v, a0);
                a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 1), v, a1);
                a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 2), v, a2);
                a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 3), v, a3);
                a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 4), v, a4);
                a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 5), v, a5);
                a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 6), v, a6);
                a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(wv + 7), v, a7);
            }
            _mm256_storeu_ps(tmp[0], a0); _mm256_storeu_ps(tmp[1], a1);
            _mm256_storeu_ps(tmp[2], a2); _mm256_storeu_ps(tmp[3], a3);
            _mm256_storeu_ps(tmp[4], a4); _mm256_storeu_ps(tmp[5], a5);
            _mm256_storeu_ps(tmp[6], a6); _mm256_storeu_ps(tmp[7], a7);
            nx = Wo - x0 < 8 ? Wo - x0 : 8;
            for (m = 0; m < M; m++) {
                float *o = out + (m * Ho + oh) * Wo + x0;
                float bm = has_bias ? bias[m] : 0.0f;
                for (t = 0; t < nx; t++) o[t] = tmp[m][t] + bm;
                if (relu)
                    for (t = 0; t < nx; t++) o[t] = (o[t] > 0.0f || o[t] != o[t]) ? o[t] : 0.0f;
            }
        }
    }
}
/* Weight gradient of pyconv_direct_w8_f (undilated, kw <= 5) for one
 * image: gw[m][(c*kh + i)*kw + j] += sum over outputs (oh, ow) of
 * gp[m][oh][ow] * xp[c][oh + i][ow + j]. For each (c, i) and channel pair,
 * 2 x 5 accumulators (taps j = 0..4; those >= kw are discarded) run over
 * the rows 8 columns at a time, the input row loaded once per tap for both
 * channels. gp is [8][Ho][Wv] (Wv = Wo rounded up to 8), zero for m >= M
 * and columns >= Wo; input columns past Wo are masked out of the loads.
 * xp is [C][Hp][Wp] plus 16 floats of slack. Each gw element sums its 8
 * lanes in order (deterministic). */
static void pyconv_direct_w8_wgrad_f(const float *PYCONV_RESTRICT xp, ptrdiff_t C,
        ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t kh, ptrdiff_t kw,
        const float *PYCONV_RESTRICT gp, ptrdiff_t M, ptrdiff_t Ho, ptrdiff_t Wo,
        ptrdiff_t Wv, float *PYCONV_RESTRICT gw)
{
    static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t c, i, mp, oh, x0, j, l, K = C * kh * kw, S = Ho * Wv;
    float tmp[2][5][8];
    for (c = 0; c < C; c++)
    for (i = 0; i < kh; i++)
    for (mp = 0; mp < M; mp += 2) {
        __m256 p0 = _mm256_setzero_ps(), p1 = p0, p2 = p0, p3 = p0, p4 = p0;
        __m256 q0 = p0, q1 = p0, q2 = p0, q3 = p0, q4 = p0;
        for (oh = 0; oh < Ho; oh++) {
            const float *xr = xp + (c * Hp + oh + i) * Wp;
            const float *g0 = gp + mp * S + oh * Wv, *g1 = g0 + S;
            for (x0 = 0; x0 < Wo; x0 += 8) {
                const float *b = xr + x0;
                __m256 G0 = _mm256_loadu_ps(g0 + x0), G1 = _mm256_loadu_ps(g1 + x0);
                __m256 v0, v1, v2, v3, v4;
                if (Wo - x0 >= 8) {
                    v0 = _mm256_loadu_ps(b); v1 = _mm256_loadu_ps(b + 1);
                    v2 = _mm256_loadu_ps(b + 2); v3 = _mm256_loadu_ps(b + 3);
                    v4 = _mm256_loadu_ps(b + 4);
                } else {
                    __m256i mask = _mm256_loadu_si256((const __m256i *)(lanes + 8 - (Wo - x0)));
                    v0 = _mm256_maskload_ps(b, mask); v1 = _mm256_maskload_ps(b + 1, mask);
                    v2 = _mm256_maskload_ps(b + 2, mask); v3 = _mm256_maskload_ps(b + 3, mask);
                    v4 = _mm256_maskload_ps(b + 4, mask);
                }
                p0 = _mm256_fmadd_ps(G0, v0, p0); q0 = _mm256_fmadd_ps(G1, v0, q0);
                p1 = _mm256_fmadd_ps(G0, v1, p1); q1 = _mm256_fmadd_ps(G1, v1, q1);
                p2 = _mm256_fmadd_ps(G0, v2, p2); q2 = _mm256_fmadd_ps(G1, v2, q2);
                p3 = _mm256_fmadd_ps(G0, v3, p3); q3 = _mm256_fmadd_ps(G1, v3, q3);
                p4 = _mm256_fmadd_ps(G0, v4, p4); q4 = _mm256_fmadd_ps(G1, v4, q4);
            }
        }
        _mm256_storeu_ps(tmp[0][0], p0); _mm256_storeu_ps(tmp[0][1], p1);
        _mm256_storeu_ps(tmp[0][2], p2); _mm256_storeu_ps(tmp[0][3], p3);
        _mm256_storeu_ps(tmp[0][4], p4);
        _mm256_storeu_ps(tmp[1][0], q0); _mm256_storeu_ps(tmp[1][1], q1);
        _mm256_storeu_ps(tmp[1][2], q2); _mm256_storeu_ps(tmp[1][3], q3);
        _mm256_storeu_ps(tmp[1][4], q4);
        for (j = 0; j < kw; j++) {
            float s0 = 0.0f, s1 = 0.0f;
            for (l = 0; l < 8; l++) { s0 += tmp[0][j][l]; s1 += tmp[1][j][l]; }
            gw[mp * K + (c * kh + i) * kw + j] += s0;
            if (mp + 1 < M) gw[(mp + 1) * K + (c * kh + i) * kw + j] += s1;
        }
    }
}
#else
#define PYCONV_HAVE_DIRECT_AVX2 0
static void pyconv_direct_w8_wgrad_f(const float *xp, ptrdiff_t C, ptrdiff_t Hp, ptrdiff_t Wp,
        ptrdiff_t kh, ptrdiff_t kw, const float *gp, ptrdiff_t M, ptrdiff_t Ho, ptrdiff_t Wo,
        ptrdiff_t Wv, float *gw)
{
    (void)xp; (void)C; (void)Hp; (void)Wp; (void)kh; (void)kw; (void)gp; (void)M; (void)Ho;
    (void)Wo; (void)Wv; (void)gw;
}
static void pyconv_direct_w8_f(const float *xp, ptrdiff_t Wp, const ptrdiff_t *offs,
        ptrdiff_t K, const float *w8, ptrdiff_t M, const float *bias, int has_bias,
        int relu, float *out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    /* never called: Python selects the direct path only in the AVX2 build */
    (void)xp; (void)Wp; (void)offs; (void)K; (void)w8; (void)M; (void)bias;
    (void)has_bias; (void)relu; (void)out; (void)Ho; (void)Wo;
}
static void pyconv_direct16_wgrad_f(const float *xp, ptrdiff_t Wp, const ptrdiff_t *offs,
        ptrdiff_t K, const float *gyT, ptrdiff_t M, ptrdiff_t Ho, ptrdiff_t Wo, float *gw)
{
    (void)xp; (void)Wp; (void)offs; (void)K; (void)gyT; (void)M; (void)Ho; (void)Wo;
    (void)gw;
}
static void pyconv_direct16_f(const float *xp, ptrdiff_t Wp, const ptrdiff_t *offs,
        ptrdiff_t K, const float *wpk, ptrdiff_t M, const float *bias, int has_bias,
        float *out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    /* never called: Python selects the direct path only in the AVX2 build */
    (void)xp; (void)Wp; (void)offs; (void)K; (void)wpk; (void)M; (void)bias;
    (void)has_bias; (void)out; (void)Ho; (void)Wo;
}
#endif

#endif /* PYCONV_CONV_LOOPS_H */
