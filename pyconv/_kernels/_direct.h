/* The register-blocked direct convolutions of direct.pxi (AVX2+FMA build
 * only; the baseline build gets stubs that are never called). */
#ifndef PYCONV_DIRECT_H
#define PYCONV_DIRECT_H

#include "_common.h"

/* Direct stride-1 convolution of one zero-padded image, register-blocked:
 * 16 output channels (two AVX2 vectors of packed weights) x 6 output
 * positions (12 accumulators; input values broadcast). The positions run
 * over the flattened output grid, each with its own base pointer into the
 * padded image, and `offs[k]` is the offset of tap k = (c, i, j) -- so no
 * lane is wasted on short rows. xp is [C][Hp][Wp]; wpk is [M/16][K][16];
 * out is [M][Ho][Wo]. Only the AVX2+FMA build has it. */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PYCONV_HAVE_DIRECT 1
static void pyconv_direct_c16_f(const float *PYCONV_RESTRICT xp, ptrdiff_t Wp,
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
                const float *wv = wb;
                PYCONV_TILE6x16_INIT(b0, b1);
                for (k = 0; k < K; k++, wv += 16) {
                    ptrdiff_t o = offs[k];
                    __m256 w0 = _mm256_loadu_ps(wv), w1 = _mm256_loadu_ps(wv + 8);
                    PYCONV_TILE6x16_STEP(x0 + o, x1 + o, x2 + o, x3 + o, x4 + o, x5 + o,
                                         w0, w1);
                }
                PYCONV_TILE6x16_STORE(tmp);
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
static void pyconv_direct_c16_wgrad_f(const float *PYCONV_RESTRICT xp, ptrdiff_t Wp,
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
                PYCONV_TILE6x16_INIT(_mm256_setzero_ps(), _mm256_setzero_ps());
                for (oh = 0; oh < Ho; oh++) {
                    const float *xr = xp + oh * Wp;
                    const float *g = gyT + oh * Wo * M + mb * 16;
                    for (ow = 0; ow < Wo; ow++, g += M) {
                        const float *b = xr + ow;
                        __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8);
                        PYCONV_TILE6x16_STEP(b + o0, b + o1, b + o2, b + o3, b + o4, b + o5,
                                             g0, g1);
                    }
                }
                PYCONV_TILE6x16_STORE(tmp);
            }
            for (kk = 0; kk < nk; kk++)
                for (l = 0; l < 16; l++)
                    gw[(mb * 16 + l) * K + k0 + kk] += tmp[kk][l];
        }
    }
}
/* o[t] = v[t] + bias for t < n; with relu then as np.maximum(o, 0) (NaN
 * kept, -0.0 -> 0.0). */
static inline void pyconv_bias_relu_row(float *PYCONV_RESTRICT o, const float *v, ptrdiff_t n,
                                        float bias, int relu)
{
    ptrdiff_t t;
    for (t = 0; t < n; t++) o[t] = v[t] + bias;
    if (relu)
        for (t = 0; t < n; t++) o[t] = (o[t] > 0.0f || o[t] != o[t]) ? o[t] : 0.0f;
}
/* Direct stride-1 convolution of one zero-padded image for few output
 * channels (M <= 8), vectorised over output width instead: 8 consecutive
 * outputs of a row x 8 channels (8 accumulators; weights broadcast from
 * wpk = [K][8], zero beyond M); for M <= 6, 16 outputs x 6 channels (12
 * accumulators). xp is [C][Hp][Wp] plus 16 floats of slack (the last
 * vectors of a row may read past its end; those lanes are never stored);
 * out is [M][Ho][Wo]. Each output sums its taps in k order, then
 * adds the bias. */
static void pyconv_direct_c8_f(const float *PYCONV_RESTRICT xp, ptrdiff_t Wp,
        const ptrdiff_t *PYCONV_RESTRICT offs, ptrdiff_t K,
        const float *PYCONV_RESTRICT wpk, ptrdiff_t M, const float *bias, int has_bias,
        int relu, float *PYCONV_RESTRICT out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    ptrdiff_t oh, x0, k, m, nx;
    float tmp[8][8];
    if (M <= 6) {
        /* 16 outputs of a row x 6 channels: 12 accumulators, and each
         * broadcast weight feeds two FMAs */
        float tmp2[6][16];
        for (oh = 0; oh < Ho; oh++) {
            for (x0 = 0; x0 < Wo; x0 += 16) {
                const float *b = xp + oh * Wp + x0;
                const float *wv = wpk;
                PYCONV_TILE6x16_INIT(_mm256_setzero_ps(), _mm256_setzero_ps());
                for (k = 0; k < K; k++, wv += 8) {
                    const float *bk = b + offs[k];
                    __m256 v0 = _mm256_loadu_ps(bk), v1 = _mm256_loadu_ps(bk + 8);
                    PYCONV_TILE6x16_STEP(wv + 0, wv + 1, wv + 2, wv + 3, wv + 4, wv + 5,
                                         v0, v1);
                }
                PYCONV_TILE6x16_STORE(tmp2);
                nx = Wo - x0 < 16 ? Wo - x0 : 16;
                for (m = 0; m < M; m++)
                    pyconv_bias_relu_row(out + (m * Ho + oh) * Wo + x0, tmp2[m], nx,
                                         has_bias ? bias[m] : 0.0f, relu);
            }
        }
        return;
    }
    for (oh = 0; oh < Ho; oh++) {
        for (x0 = 0; x0 < Wo; x0 += 8) {
            const float *b = xp + oh * Wp + x0;
            const float *wv = wpk;
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
            for (m = 0; m < M; m++)
                pyconv_bias_relu_row(out + (m * Ho + oh) * Wo + x0, tmp[m], nx,
                                     has_bias ? bias[m] : 0.0f, relu);
        }
    }
}
/* Weight gradient of pyconv_direct_c8_f (undilated, kw <= 5) for one
 * image: gw[m][(c*kh + i)*kw + j] += sum over outputs (oh, ow) of
 * gp[m][oh][ow] * xp[c][oh + i][ow + j]. For each (c, i) and channel pair,
 * 2 x 5 accumulators (taps j = 0..4; those >= kw are discarded) run over
 * the rows 8 columns at a time, the input row loaded once per tap for both
 * channels. gp is [8][Ho][Wv] (Wv = Wo rounded up to 8), zero for m >= M
 * and columns >= Wo; input columns past Wo are masked out of the loads.
 * xp is [C][Hp][Wp] plus 16 floats of slack. Each gw element sums its 8
 * lanes in order (deterministic). */
static void pyconv_direct_c8_wgrad_f(const float *PYCONV_RESTRICT xp, ptrdiff_t C,
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
#define PYCONV_HAVE_DIRECT 0
static void pyconv_direct_c8_wgrad_f(const float *xp, ptrdiff_t C, ptrdiff_t Hp, ptrdiff_t Wp,
        ptrdiff_t kh, ptrdiff_t kw, const float *gp, ptrdiff_t M, ptrdiff_t Ho, ptrdiff_t Wo,
        ptrdiff_t Wv, float *gw)
{
    (void)xp; (void)C; (void)Hp; (void)Wp; (void)kh; (void)kw; (void)gp; (void)M; (void)Ho;
    (void)Wo; (void)Wv; (void)gw;
}
static void pyconv_direct_c8_f(const float *xp, ptrdiff_t Wp, const ptrdiff_t *offs,
        ptrdiff_t K, const float *wpk, ptrdiff_t M, const float *bias, int has_bias,
        int relu, float *out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    /* never called: Python selects the direct path only in the AVX2 build */
    (void)xp; (void)Wp; (void)offs; (void)K; (void)wpk; (void)M; (void)bias;
    (void)has_bias; (void)relu; (void)out; (void)Ho; (void)Wo;
}
static void pyconv_direct_c16_wgrad_f(const float *xp, ptrdiff_t Wp, const ptrdiff_t *offs,
        ptrdiff_t K, const float *gyT, ptrdiff_t M, ptrdiff_t Ho, ptrdiff_t Wo, float *gw)
{
    (void)xp; (void)Wp; (void)offs; (void)K; (void)gyT; (void)M; (void)Ho; (void)Wo;
    (void)gw;
}
static void pyconv_direct_c16_f(const float *xp, ptrdiff_t Wp, const ptrdiff_t *offs,
        ptrdiff_t K, const float *wpk, ptrdiff_t M, const float *bias, int has_bias,
        float *out, ptrdiff_t Ho, ptrdiff_t Wo)
{
    /* never called: Python selects the direct path only in the AVX2 build */
    (void)xp; (void)Wp; (void)offs; (void)K; (void)wpk; (void)M; (void)bias;
    (void)has_bias; (void)out; (void)Ho; (void)Wo;
}
#endif

#endif /* PYCONV_DIRECT_H */
