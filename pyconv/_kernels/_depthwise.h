/* Depthwise stride-1 rows, forward and weight gradient (depthwise.pxi). */
#ifndef PYCONV_DEPTHWISE_H
#define PYCONV_DEPTHWISE_H

#include "_common.h"

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

#endif /* PYCONV_DEPTHWISE_H */
