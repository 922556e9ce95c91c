/* pyconv's own single-precision GEMM for the AVX2+FMA and AVX-512 builds.
 *
 *   C[m][n] = alpha * op(A)[m][k] @ op(B)[k][n] + beta * C  (+ bias[m]) (then max(0, .))
 *
 * all row-major, op(X) = X or X^T. It is single-threaded: the convolution
 * kernels call it from inside their own `prange`, one call per tile, which
 * is why a library BLAS (with its own threads, its own buffers and its
 * generic blocking) loses time here on the convolution's shapes.
 *
 * The scheme is the classic one (Goto; BLIS): op(B) is packed in blocks of
 * at most KC rows x NC columns, as panels of NR=16 columns laid out k-major;
 * op(A) in blocks of MC x KC, as panels of MR=6 rows (or once for a whole
 * call, pyconv_pack_a_whole, when A is a convolution's weights). The 6x16
 * micro-kernel keeps 12 ymm accumulators, loads two vectors of B and
 * broadcasts six values of A per k: 12 FMAs for 8 loads, which saturates
 * both FMA pipes of Zen 3/4 and Haswell-class cores. k is cut into equal
 * blocks (576 -> 2 x 288): a B panel (<= 24 KiB) stays in L1 while the
 * micro-kernel walks the A panels of the block (<= 216 KiB) in L2.
 * The AVX-512 build (-mavx512f) takes its micro-kernel, blocking and FMA
 * probe from _gemm_avx512.h instead (12x32 tile, 24 zmm accumulators, NR=32
 * panels, masked edges); packing and the blocked driver below serve both.
 *
 * The epilogue is fused: alpha, beta, a per-row bias and a ReLU are applied
 * while the accumulators are written, in one pass over C. beta == 0 never
 * reads C (it may hold garbage). The packed panels are zero-padded, so the
 * micro-kernel never branches in its k loop; edges (m % MR, n % NR) go
 * through a small buffer (AVX2) or masked stores (AVX-512).
 *
 * Pack buffers: one per thread, allocated on first use and kept (a
 * thread-local pointer), so repeated calls take no page faults -- the way a
 * BLAS keeps its buffer pool. The size is fixed by the blocking (about
 * 3.4 MiB). If that allocation fails the caller is told (return value -1)
 * and falls back to the library BLAS.
 *
 * Summation order for each C element is fixed by (m, n, k) and the blocking
 * constants only -- never by the thread count -- so results are
 * deterministic.
 */
#ifndef PYCONV_GEMM_H
#define PYCONV_GEMM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_common.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PYCONV_HAVE_SGEMM 1

#if defined(__AVX512F__)
#include "_gemm_avx512.h"
#else
#define PYCONV_MR 6
#define PYCONV_NR 16
#define PYCONV_KC 384
#define PYCONV_MC 144
#define PYCONV_NC 2048
#endif

#if defined(_MSC_VER)
#define PYCONV_TLS __declspec(thread)
#else
#define PYCONV_TLS __thread
#endif

/* Row groups of eight in an A panel, and the floats pyconv_pack_a may
 * write past the end of its panels (see there). */
#define PYCONV_MR8 ((PYCONV_MR + 7) / 8)
#define PYCONV_PACK_SLACK 8

static PYCONV_TLS float *pyconv_gemm_buf = NULL;

static float *pyconv_gemm_buffer(void)
{
    if (pyconv_gemm_buf == NULL) {
        size_t n = (size_t)PYCONV_KC * (PYCONV_NC + PYCONV_MC) + 64;
        void *p = NULL;
#if defined(_MSC_VER)
        p = _aligned_malloc(n * sizeof(float), 64);
#else
        if (posix_memalign(&p, 64, n * sizeof(float)) != 0) p = NULL;
#endif
        pyconv_gemm_buf = (float *)p;
    }
    return pyconv_gemm_buf;
}

/* Transpose eight rows of eight floats in registers: afterwards r[i] holds
 * column i, (r0[i], r1[i], ..., r7[i]). */
static inline void pyconv_transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20); r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20); r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31); r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31); r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Pack rows i0..i0+mc of op(A), columns p0..p0+kc, as MR-row panels:
 * dst[panel][p][r]. Rows past mc are zero. */
static void pyconv_pack_a(int trans, const float *a, ptrdiff_t lda, ptrdiff_t i0,
                          ptrdiff_t mc, ptrdiff_t p0, ptrdiff_t kc, float *dst)
{
    ptrdiff_t ib, p, r, r_;
    for (ib = 0; ib < mc; ib += PYCONV_MR) {
        ptrdiff_t mr = mc - ib < PYCONV_MR ? mc - ib : PYCONV_MR;
        if (!trans) {
            /* Eight k at a time through register transposes of eight rows
             * (rows past mr, and the last group's padding, are zero); a
             * group's 8-float store spills zeros into the next group's or
             * k's slots, which the next store overwrites (hence the slack
             * of PYCONV_PACK_SLACK floats after a packed A). */
            const float *rows[PYCONV_MR];
            for (r = 0; r < PYCONV_MR; r++)
                rows[r] = a + (i0 + ib + (r < mr ? r : 0)) * lda + p0;
            for (p = 0; p + 8 <= kc; p += 8) {
                __m256 r[PYCONV_MR8][8];
                ptrdiff_t g;
                for (r_ = 0; r_ < 8 * PYCONV_MR8; r_++)
                    r[r_ / 8][r_ % 8] = r_ < mr ? _mm256_loadu_ps(rows[r_] + p)
                                                : _mm256_setzero_ps();
                for (g = 0; g < PYCONV_MR8; g++) pyconv_transpose8(r[g]);
                for (r_ = 0; r_ < 8; r_++)
                    for (g = 0; g < PYCONV_MR8; g++)
                        _mm256_storeu_ps(dst + r_ * PYCONV_MR + 8 * g, r[g][r_]);
                dst += 8 * PYCONV_MR;
            }
            for (; p < kc; p++) {
                for (r = 0; r < PYCONV_MR; r++) dst[r] = r < mr ? rows[r][p] : 0.0f;
                dst += PYCONV_MR;
            }
        } else {
            /* op(A)[i][p] = a[p * lda + i]: six contiguous values per p. */
            const float *col = a + p0 * lda + i0 + ib;
            for (p = 0; p < kc; p++, col += lda) {
                for (r = 0; r < PYCONV_MR; r++) dst[r] = r < mr ? col[r] : 0.0f;
                dst += PYCONV_MR;
            }
        }
    }
}

/* Pack rows p0..p0+kc of op(B), columns j0..j0+nc, as NR-column panels:
 * dst[panel][p][j]. Columns past nc are zero. */
static void pyconv_pack_b(int trans, const float *b, ptrdiff_t ldb, ptrdiff_t p0,
                          ptrdiff_t kc, ptrdiff_t j0, ptrdiff_t nc, float *dst)
{
    ptrdiff_t jb, p, j;
    if (!trans) {
        /* Row by row of op(B), each source row read once from start to end
         * and dealt out to the panels (measured 4% faster on pw1x1's forward
         * than panel by panel, which reads every row 16 floats at a time). */
        ptrdiff_t nfull = nc / PYCONV_NR * PYCONV_NR, nr = nc - nfull;
        for (p = 0; p < kc; p++) {
            const float *row = b + (p0 + p) * ldb + j0;
            float *d = dst + p * PYCONV_NR;
            for (jb = 0; jb < nfull; jb += PYCONV_NR, d += kc * PYCONV_NR)
                for (j = 0; j < PYCONV_NR; j += 8)
                    _mm256_storeu_ps(d + j, _mm256_loadu_ps(row + jb + j));
            for (j = 0; nr && j < PYCONV_NR; j++) d[j] = j < nr ? row[nfull + j] : 0.0f;
        }
        return;
    }
    for (jb = 0; jb < nc; jb += PYCONV_NR) {
        /* op(B)[p][j] = b[j * ldb + p]: 8x8 register transposes per eight k
         * and eight columns (columns past nc zero), then the k left over
         * one by one. */
        ptrdiff_t nr = nc - jb < PYCONV_NR ? nc - jb : PYCONV_NR;
        const float *src = b + (j0 + jb) * ldb + p0;
        for (p = 0; p + 8 <= kc; p += 8) {
            __m256 r[PYCONV_NR / 8][8];
            ptrdiff_t h;
            for (h = 0; h < PYCONV_NR / 8; h++) {
                for (j = 0; j < 8; j++)
                    r[h][j] = 8 * h + j < nr ? _mm256_loadu_ps(src + (8 * h + j) * ldb + p)
                                             : _mm256_setzero_ps();
                pyconv_transpose8(r[h]);
            }
            for (j = 0; j < 8; j++)
                for (h = 0; h < PYCONV_NR / 8; h++)
                    _mm256_store_ps(dst + (p + j) * PYCONV_NR + 8 * h, r[h][j]);
        }
        for (; p < kc; p++)
            for (j = 0; j < PYCONV_NR; j++)
                dst[p * PYCONV_NR + j] = j < nr ? src[j * ldb + p] : 0.0f;
        dst += kc * PYCONV_NR;
    }
}

#if !defined(__AVX512F__)
/* Write one row of 16 results: v = alpha*acc (+ beta*c) (+ bias), ReLU. */
#define PYCONV_GEMM_ROW(ACC0, ACC1, CROW, BIASV)                                  \
    do {                                                                          \
        __m256 v0 = _mm256_mul_ps(ACC0, valpha), v1 = _mm256_mul_ps(ACC1, valpha); \
        if (beta != 0.0f) {                                                       \
            v0 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(CROW), v0);               \
            v1 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps((CROW) + 8), v1);         \
        }                                                                         \
        v0 = _mm256_add_ps(v0, BIASV); v1 = _mm256_add_ps(v1, BIASV);             \
        if (relu) { v0 = _mm256_max_ps(v0, vzero); v1 = _mm256_max_ps(v1, vzero); } \
        _mm256_storeu_ps(CROW, v0); _mm256_storeu_ps((CROW) + 8, v1);             \
    } while (0)

/* The 6x16 micro-kernel on packed panels a (kc x 6) and b (kc x 16). */
static void pyconv_sgemm_micro(ptrdiff_t kc, const float *a, const float *b,
                              float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,
                              float alpha, float beta, const float *bias, int relu)
{
    PYCONV_TILE6x16_INIT(_mm256_setzero_ps(), _mm256_setzero_ps());
    const __m256 valpha = _mm256_set1_ps(alpha), vbeta = _mm256_set1_ps(beta);
    const __m256 vzero = _mm256_setzero_ps();
    float tmp[PYCONV_MR * PYCONV_NR];
    float *cw;
    ptrdiff_t ldw, p, i, j;
    for (i = 0; i < PYCONV_MR && i < mr; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        PYCONV_TILE6x16_STEP(a + 0, a + 1, a + 2, a + 3, a + 4, a + 5, b0, b1);
        a += PYCONV_MR;
        b += PYCONV_NR;
    }
    if (mr == PYCONV_MR && nr == PYCONV_NR) {
        cw = c;
        ldw = ldc;
    } else {
        /* Edge tile: compute into tmp (with C's old values when beta != 0),
         * then copy the valid part. */
        cw = tmp;
        ldw = PYCONV_NR;
        if (beta != 0.0f)
            for (i = 0; i < mr; i++)
                for (j = 0; j < nr; j++) tmp[i * PYCONV_NR + j] = c[i * ldc + j];
    }
    {
        __m256 bv;
#define PYCONV_BIAS(R) (bias ? _mm256_set1_ps((R) < mr ? bias[R] : 0.0f) : vzero)
        bv = PYCONV_BIAS(0); PYCONV_GEMM_ROW(acc00, acc01, cw + 0 * ldw, bv);
        bv = PYCONV_BIAS(1); PYCONV_GEMM_ROW(acc10, acc11, cw + 1 * ldw, bv);
        bv = PYCONV_BIAS(2); PYCONV_GEMM_ROW(acc20, acc21, cw + 2 * ldw, bv);
        bv = PYCONV_BIAS(3); PYCONV_GEMM_ROW(acc30, acc31, cw + 3 * ldw, bv);
        bv = PYCONV_BIAS(4); PYCONV_GEMM_ROW(acc40, acc41, cw + 4 * ldw, bv);
        bv = PYCONV_BIAS(5); PYCONV_GEMM_ROW(acc50, acc51, cw + 5 * ldw, bv);
#undef PYCONV_BIAS
    }
    if (cw == tmp)
        for (i = 0; i < mr; i++)
            for (j = 0; j < nr; j++) c[i * ldc + j] = tmp[i * PYCONV_NR + j];
}
#endif /* !__AVX512F__: the AVX2 micro-kernel */

/* Floats of op(A) (m x k) packed whole by pyconv_pack_a_whole. */
static size_t pyconv_packed_a_size(ptrdiff_t m, ptrdiff_t k)
{
    return (size_t)((m + PYCONV_MR - 1) / PYCONV_MR * PYCONV_MR) * (size_t)k
           + PYCONV_PACK_SLACK;
}

static ptrdiff_t pyconv_gemm_kblock(ptrdiff_t k);

/* Pack all of op(A) once, for products that reuse it (a convolution's
 * weights, the same for every image): for each block of k, the MR-row
 * panels of all m rows -- the layout pyconv_sgemm_packed_a reads. */
static void pyconv_pack_a_whole(int trans, const float *a, ptrdiff_t lda, ptrdiff_t m,
                                ptrdiff_t k, float *dst)
{
    ptrdiff_t pc, kb = pyconv_gemm_kblock(k);
    ptrdiff_t mp = (m + PYCONV_MR - 1) / PYCONV_MR * PYCONV_MR;
    for (pc = 0; pc < k; pc += kb)
        pyconv_pack_a(trans, a, lda, 0, m, pc, k - pc < kb ? k - pc : kb, dst + pc * mp);
}

/* k is cut into equal blocks of at most KC (288 -> 288, 576 -> 2 x 288),
 * never into a full block and a sliver. */
static ptrdiff_t pyconv_gemm_kblock(ptrdiff_t k)
{
    ptrdiff_t blocks = (k + PYCONV_KC - 1) / PYCONV_KC;
    return (k + blocks - 1) / blocks;
}

/* The GEMM, with op(A) either packed here block by block (a_packed NULL) or
 * already packed whole (a_packed from pyconv_pack_a_whole; a, lda unused).
 * Returns 0, or -1 if the pack buffer could not be allocated (nothing was
 * written then). The bias and the ReLU are applied after the last block of
 * k only. */
static int pyconv_sgemm_packed_a(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n,
                                 ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                                 const float *a_packed, const float *b, ptrdiff_t ldb,
                                 float beta, float *c, ptrdiff_t ldc, const float *bias,
                                 int relu)
{
    float *buf, *pa, *pb;
    const float *pa_use;
    ptrdiff_t mp = (m + PYCONV_MR - 1) / PYCONV_MR * PYCONV_MR;
    ptrdiff_t jc, pc, ic, jr, ir, nc, kc, mc, kb;
    if (m <= 0 || n <= 0) return 0;
    buf = pyconv_gemm_buffer();
    if (buf == NULL) return -1;
    pb = buf;
    pa = buf + (size_t)PYCONV_KC * PYCONV_NC;
    if (k <= 0) {
        /* C = beta * C (+ bias), like a BLAS with k == 0. */
        for (ic = 0; ic < m; ic++)
            for (jc = 0; jc < n; jc++) {
                float v = beta != 0.0f ? beta * c[ic * ldc + jc] : 0.0f;
                if (bias) v += bias[ic];
                if (relu && v < 0.0f) v = 0.0f;
                c[ic * ldc + jc] = v;
            }
        return 0;
    }
    kb = pyconv_gemm_kblock(k);
    for (jc = 0; jc < n; jc += PYCONV_NC) {
        nc = n - jc < PYCONV_NC ? n - jc : PYCONV_NC;
        for (pc = 0; pc < k; pc += kb) {
            int first = pc == 0, last = pc + kb >= k;
            float beta_k = first ? beta : 1.0f;
            const float *bias_k = last ? bias : NULL;
            int relu_k = last && relu;
            kc = k - pc < kb ? k - pc : kb;
            pyconv_pack_b(trans_b, b, ldb, pc, kc, jc, nc, pb);
            for (ic = 0; ic < m; ic += PYCONV_MC) {
                mc = m - ic < PYCONV_MC ? m - ic : PYCONV_MC;
                if (a_packed) {
                    pa_use = a_packed + pc * mp + ic * kc;
                } else {
                    pyconv_pack_a(trans_a, a, lda, ic, mc, pc, kc, pa);
                    pa_use = pa;
                }
                for (jr = 0; jr < nc; jr += PYCONV_NR) {
                    ptrdiff_t nr = nc - jr < PYCONV_NR ? nc - jr : PYCONV_NR;
                    const float *bp = pb + jr * kc;
                    for (ir = 0; ir < mc; ir += PYCONV_MR) {
                        ptrdiff_t mr = mc - ir < PYCONV_MR ? mc - ir : PYCONV_MR;
                        pyconv_sgemm_micro(kc, pa_use + ir * kc, bp,
                                          c + (ic + ir) * ldc + jc + jr, ldc, mr, nr,
                                          alpha, beta_k, bias_k ? bias_k + ic + ir : NULL,
                                          relu_k);
                    }
                }
            }
        }
    }
    return 0;
}

/* The GEMM, packing both operands itself. */
static int pyconv_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                        float alpha, const float *a, ptrdiff_t lda,
                        const float *b, ptrdiff_t ldb, float beta,
                        float *c, ptrdiff_t ldc, const float *bias, int relu)
{
    return pyconv_sgemm_packed_a(trans_a, trans_b, m, n, k, alpha, a, lda, NULL, b, ldb, beta,
                                 c, ldc, bias, relu);
}

#if !defined(__AVX512F__)
/* The machine's FP32 FMA throughput, for the benchmark's "% of peak": twelve
 * independent accumulator chains (enough to cover the FMA latency on both
 * pipes), `iters` rounds. Returns the flops done; the result is folded into
 * *sink so the loop cannot be optimised away. */
static double pyconv_fma_probe(long iters, float *sink)
{
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f);
    __m256 a3 = _mm256_set1_ps(1.3f), a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f);
    __m256 a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f), a8 = _mm256_set1_ps(1.8f);
    __m256 a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f), a11 = _mm256_set1_ps(2.1f);
    const __m256 m = _mm256_set1_ps(0.99999994f), d = _mm256_set1_ps(1e-8f);
    long i;
    float out[8];
    for (i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, d); a1 = _mm256_fmadd_ps(a1, m, d);
        a2 = _mm256_fmadd_ps(a2, m, d); a3 = _mm256_fmadd_ps(a3, m, d);
        a4 = _mm256_fmadd_ps(a4, m, d); a5 = _mm256_fmadd_ps(a5, m, d);
        a6 = _mm256_fmadd_ps(a6, m, d); a7 = _mm256_fmadd_ps(a7, m, d);
        a8 = _mm256_fmadd_ps(a8, m, d); a9 = _mm256_fmadd_ps(a9, m, d);
        a10 = _mm256_fmadd_ps(a10, m, d); a11 = _mm256_fmadd_ps(a11, m, d);
    }
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    a0 = _mm256_add_ps(a0, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    _mm256_storeu_ps(out, a0);
    *sink += out[0];
    return 12.0 * 8.0 * 2.0 * (double)iters;
}
#endif


#else
#define PYCONV_HAVE_SGEMM 0
static int pyconv_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                        float alpha, const float *a, ptrdiff_t lda,
                        const float *b, ptrdiff_t ldb, float beta,
                        float *c, ptrdiff_t ldc, const float *bias, int relu)
{
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a;
    (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc; (void)bias; (void)relu;
    return -1;
}
static double pyconv_fma_probe(long iters, float *sink)
{
    (void)iters; (void)sink;
    return 0.0;
}
static size_t pyconv_packed_a_size(ptrdiff_t m, ptrdiff_t k)
{
    (void)m; (void)k;
    return 0;
}
static void pyconv_pack_a_whole(int trans, const float *a, ptrdiff_t lda, ptrdiff_t m,
                                ptrdiff_t k, float *dst)
{
    (void)trans; (void)a; (void)lda; (void)m; (void)k; (void)dst;
}
static int pyconv_sgemm_packed_a(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n,
                                 ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                                 const float *a_packed, const float *b, ptrdiff_t ldb,
                                 float beta, float *c, ptrdiff_t ldc, const float *bias,
                                 int relu)
{
    (void)a_packed;
    return pyconv_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                        bias, relu);
}
#endif

#endif /* PYCONV_GEMM_H */
