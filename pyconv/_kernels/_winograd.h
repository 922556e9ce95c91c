/* Winograd F(2x2, 3x3) and F(4x4, 3x3) tile transforms (input, output,
 * gradient) of winograd.pxi.
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
#ifndef PYCONV_WINOGRAD_H
#define PYCONV_WINOGRAD_H

#include "_common.h"

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
/* v[c * es + tx] = (B^T d B)[c] of the tiles of one tile row; rows a = 0..3 of   */   \
/* the tiles are (ea, oa) deinterleaved, each of length tw + 1.                    */   \
static void pyconv_wino2_input_##SUF(const T *e0, const T *o0, const T *e1,             \
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
static void pyconv_wino2_output_##SUF(const T *s, ptrdiff_t es, T *y0, T *y1, T b,      \
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
static void pyconv_wino2_grad_##SUF(const T *g0, const T *g1, T *d, ptrdiff_t es,       \
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

#endif /* PYCONV_WINOGRAD_H */
