/* im2col / col2im of tiles of whole output rows (im2col_gemm.pxi), with
 * vectorised stride-2 gathers and scatters. */
#ifndef PYCONV_IM2COL_H
#define PYCONV_IM2COL_H

#include "_common.h"

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

/* im2col of a tile of whole output rows oh0 .. oh0+rows of one image group:
 * col[(c*kh + i)*kw + j][r*Wo + ow] = x[c][(oh0+r)*sh - ph + i*dh][ow*sw - pw + j*dw]
 * (zero outside the image). `restrict` lets the compiler vectorise the copies
 * without run-time overlap checks, which dominate for short rows. */
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

/* im2col of one small image through a zero-padded copy of it: pad holds
 * Cg planes of Hp x Wp (Hp = (Ho-1)*sh + (kh-1)*dh + 1 rows from input row
 * -ph, likewise Wp), after which every tap's row is plain copies, with no
 * bounds logic per output row (which dominates for 4x4 outputs):
 * col[(c*kh + i)*kw + j][oh*Wo + ow] = padded x, rows ldcol apart. */
#define PYCONV_IM2COL_PADDED_DEFINE(T, SUF)                                            \
PYCONV_NO_LIBCALLS                                                                     \
static void pyconv_im2col_padded_##SUF(const T *PYCONV_RESTRICT x, T *PYCONV_RESTRICT col, \
        ptrdiff_t ldcol, T *PYCONV_RESTRICT pad, ptrdiff_t Cg, ptrdiff_t H, ptrdiff_t W, \
        ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t sw, ptrdiff_t ph,          \
        ptrdiff_t pw, ptrdiff_t dh, ptrdiff_t dw, ptrdiff_t Ho, ptrdiff_t Wo)          \
{                                                                                      \
    ptrdiff_t Hp = (Ho - 1) * sh + (kh - 1) * dh + 1, Wp = (Wo - 1) * sw + (kw - 1) * dw + 1; \
    ptrdiff_t c, i, j, r, t, oh;                                                       \
    for (c = 0; c < Cg; c++)                                                           \
        for (r = 0; r < Hp; r++) {                                                     \
            T *PYCONV_RESTRICT prow = pad + (c * Hp + r) * Wp;                         \
            ptrdiff_t ih = r - ph;                                                     \
            for (t = 0; t < Wp; t++) {                                                 \
                ptrdiff_t iw = t - pw;                                                 \
                prow[t] = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[(c * H + ih) * W + iw] : 0; \
            }                                                                          \
        }                                                                              \
    for (c = 0; c < Cg; c++)                                                           \
    for (i = 0; i < kh; i++)                                                           \
    for (j = 0; j < kw; j++) {                                                         \
        T *PYCONV_RESTRICT dst = col + ((c * kh + i) * kw + j) * ldcol;                \
        for (oh = 0; oh < Ho; oh++, dst += Wo) {                                       \
            const T *PYCONV_RESTRICT src = pad + (c * Hp + oh * sh + i * dh) * Wp + j * dw; \
            for (t = 0; t < Wo; t++) dst[t] = src[t * sw];                             \
        }                                                                              \
    }                                                                                  \
}

PYCONV_IM2COL_PADDED_DEFINE(float, f)
PYCONV_IM2COL_PADDED_DEFINE(double, d)

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

/* Adjoint of pyconv_im2col_padded: col (rows ldcol apart) added onto one
 * small image's gradient gx through the zero-padded planes pad (the same
 * sums in the same order as pyconv_col2im_rows, gx zero on entry). */
#define PYCONV_COL2IM_PADDED_DEFINE(T, SUF)                                            \
PYCONV_NO_LIBCALLS                                                                     \
static void pyconv_col2im_padded_##SUF(const T *PYCONV_RESTRICT col, ptrdiff_t ldcol,  \
        T *PYCONV_RESTRICT gx, T *PYCONV_RESTRICT pad, ptrdiff_t Cg, ptrdiff_t H,      \
        ptrdiff_t W, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t sw,            \
        ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t dh, ptrdiff_t dw, ptrdiff_t Ho, ptrdiff_t Wo) \
{                                                                                      \
    ptrdiff_t Hp = (Ho - 1) * sh + (kh - 1) * dh + 1, Wp = (Wo - 1) * sw + (kw - 1) * dw + 1; \
    ptrdiff_t c, i, j, r, t, oh;                                                       \
    for (t = 0; t < Cg * Hp * Wp; t++) pad[t] = 0;                                     \
    for (c = 0; c < Cg; c++)                                                           \
    for (i = 0; i < kh; i++)                                                           \
    for (j = 0; j < kw; j++) {                                                         \
        const T *PYCONV_RESTRICT src = col + ((c * kh + i) * kw + j) * ldcol;          \
        for (oh = 0; oh < Ho; oh++, src += Wo) {                                       \
            T *PYCONV_RESTRICT dst = pad + (c * Hp + oh * sh + i * dh) * Wp + j * dw;  \
            for (t = 0; t < Wo; t++) dst[t * sw] += src[t];                            \
        }                                                                              \
    }                                                                                  \
    for (c = 0; c < Cg; c++)                                                           \
        for (r = 0; r < Hp; r++) {                                                     \
            ptrdiff_t ih = r - ph;                                                     \
            if (ih < 0 || ih >= H) continue;                                           \
            for (t = 0; t < Wp; t++) {                                                 \
                ptrdiff_t iw = t - pw;                                                 \
                if (iw >= 0 && iw < W) gx[(c * H + ih) * W + iw] += pad[(c * Hp + r) * Wp + t]; \
            }                                                                          \
        }                                                                              \
}

PYCONV_COL2IM_PADDED_DEFINE(float, f)
PYCONV_COL2IM_PADDED_DEFINE(double, d)

#endif /* PYCONV_IM2COL_H */
