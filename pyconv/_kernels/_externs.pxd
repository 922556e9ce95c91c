# The one declaration of the C kernels' functions (the headers beside this
# file). Every ISA build compiles the same headers with its own flags.

cdef extern from "_gemm.h" nogil:
    # pyconv's packed float32 GEMM (AVX2+FMA build; a stub returning -1
    # elsewhere): C = alpha op(A) op(B) + beta C (+ bias per row) (ReLU).
    int PYCONV_HAVE_SGEMM
    int pyconv_sgemm(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     float alpha, const float* a, Py_ssize_t lda, const float* b,
                     Py_ssize_t ldb, float beta, float* c, Py_ssize_t ldc,
                     const float* bias, int relu)
    # op(A) packed whole once (pyconv_pack_a_whole), then reused.
    size_t pyconv_packed_a_size(Py_ssize_t m, Py_ssize_t k)
    void pyconv_pack_a_whole(int trans, const float* a, Py_ssize_t lda, Py_ssize_t m,
                             Py_ssize_t k, float* dst)
    int pyconv_sgemm_packed_a(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n,
                              Py_ssize_t k, float alpha, const float* a, Py_ssize_t lda,
                              const float* a_packed, const float* b, Py_ssize_t ldb,
                              float beta, float* c, Py_ssize_t ldc, const float* bias,
                              int relu)
    double pyconv_fma_probe(long iters, float* sink)


cdef extern from "_common.h" nogil:
    void pyconv_pad_row_f(float* dst, const float* src, Py_ssize_t lo, Py_ssize_t hi,
                          Py_ssize_t L)
    void pyconv_pad_row_d(double* dst, const double* src, Py_ssize_t lo, Py_ssize_t hi,
                          Py_ssize_t L)
    void pyconv_pad_plane_f(const float* src, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, float* dst, Py_ssize_t Hp, Py_ssize_t Wp)
    void pyconv_pad_plane_d(const double* src, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, double* dst, Py_ssize_t Hp, Py_ssize_t Wp)
    void pyconv_deinterleave_f(const float* src, Py_ssize_t n, Py_ssize_t shift,
                               float* e, float* o, Py_ssize_t len)
    void pyconv_deinterleave_d(const double* src, Py_ssize_t n, Py_ssize_t shift,
                               double* e, double* o, Py_ssize_t len)
    double pyconv_sum_f(const float* a, Py_ssize_t n)
    double pyconv_sum_d(const double* a, Py_ssize_t n)


cdef extern from "_im2col.h" nogil:
    void pyconv_im2col_rows_f(const float* x, float* col, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)
    void pyconv_im2col_rows_d(const double* x, double* col, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)
    void pyconv_im2col_padded_f(const float* x, float* col, Py_ssize_t ldcol, float* pad,
                                Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh,
                                Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                                Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t Ho,
                                Py_ssize_t Wo)
    void pyconv_im2col_padded_d(const double* x, double* col, Py_ssize_t ldcol, double* pad,
                                Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh,
                                Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                                Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t Ho,
                                Py_ssize_t Wo)
    void pyconv_col2im_padded_f(const float* col, Py_ssize_t ldcol, float* gx, float* pad,
                                Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh,
                                Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                                Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t Ho,
                                Py_ssize_t Wo)
    void pyconv_col2im_padded_d(const double* col, Py_ssize_t ldcol, double* gx, double* pad,
                                Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh,
                                Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                                Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t Ho,
                                Py_ssize_t Wo)
    void pyconv_col2im_rows_f(const float* col, float* gx, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)
    void pyconv_col2im_rows_d(const double* col, double* gx, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)


cdef extern from "_winograd.h" nogil:
    # F(2x2, 3x3): input rows deinterleaved (pyconv_deinterleave) into e/o.
    void pyconv_wino2_input_f(const float* e0, const float* o0, const float* e1,
                              const float* o1, const float* e2, const float* o2,
                              const float* e3, const float* o3, float* v, Py_ssize_t es,
                              Py_ssize_t tw)
    void pyconv_wino2_input_d(const double* e0, const double* o0, const double* e1,
                              const double* o1, const double* e2, const double* o2,
                              const double* e3, const double* o3, double* v, Py_ssize_t es,
                              Py_ssize_t tw)
    void pyconv_wino2_output_f(const float* s, Py_ssize_t es, float* y0, float* y1, float b,
                               Py_ssize_t tw)
    void pyconv_wino2_output_d(const double* s, Py_ssize_t es, double* y0, double* y1,
                               double b, Py_ssize_t tw)
    void pyconv_wino2_grad_f(const float* g0, const float* g1, float* d, Py_ssize_t es,
                             Py_ssize_t tw)
    void pyconv_wino2_grad_d(const double* g0, const double* g1, double* d, Py_ssize_t es,
                             Py_ssize_t tw)
    # F(4x4, 3x3): row transforms first, then the column transform per tile row.
    void pyconv_wino4_row_f(const float* x, float* h, Py_ssize_t hs, Py_ssize_t n)
    void pyconv_wino4_row_d(const double* x, double* h, Py_ssize_t hs, Py_ssize_t n)
    void pyconv_wino4_input_f(const float* h, Py_ssize_t hs, Py_ssize_t rs, float* v,
                              Py_ssize_t es, Py_ssize_t tw)
    void pyconv_wino4_input_d(const double* h, Py_ssize_t hs, Py_ssize_t rs, double* v,
                              Py_ssize_t es, Py_ssize_t tw)
    void pyconv_wino4_output_f(const float* s, Py_ssize_t es, float* y, Py_ssize_t ys,
                               float b, Py_ssize_t n)
    void pyconv_wino4_output_d(const double* s, Py_ssize_t es, double* y, Py_ssize_t ys,
                               double b, Py_ssize_t n)
    void pyconv_wino4_grad_f(const float* g, Py_ssize_t gs, float* d, Py_ssize_t es,
                             Py_ssize_t n)
    void pyconv_wino4_grad_d(const double* g, Py_ssize_t gs, double* d, Py_ssize_t es,
                             Py_ssize_t n)


cdef extern from "_depthwise.h" nogil:
    void pyconv_dw_rows_f(const float* xp, Py_ssize_t Wp, const float* w, Py_ssize_t kh,
                          Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, float b, float* out,
                          Py_ssize_t Ho, Py_ssize_t Wo)
    void pyconv_dw_rows_d(const double* xp, Py_ssize_t Wp, const double* w, Py_ssize_t kh,
                          Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, double b, double* out,
                          Py_ssize_t Ho, Py_ssize_t Wo)
    void pyconv_dw_wgrad_f(const float* xp, Py_ssize_t Wp, const float* g, Py_ssize_t Ho,
                           Py_ssize_t Wo, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t dh,
                           Py_ssize_t dw, float* lanes)
    void pyconv_dw_wgrad_d(const double* xp, Py_ssize_t Wp, const double* g, Py_ssize_t Ho,
                           Py_ssize_t Wo, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t dh,
                           Py_ssize_t dw, double* lanes)


cdef extern from "_direct.h" nogil:
    # float32 only; stubs (never called) outside the AVX2+FMA build.
    int PYCONV_HAVE_DIRECT
    void pyconv_direct_c16_f(const float* xp, Py_ssize_t Wp, const Py_ssize_t* offs,
                             Py_ssize_t K, const float* wpk, Py_ssize_t M, const float* bias,
                             int has_bias, float* out, Py_ssize_t Ho, Py_ssize_t Wo)
    void pyconv_direct_c16_wgrad_f(const float* xp, Py_ssize_t Wp, const Py_ssize_t* offs,
                                   Py_ssize_t K, const float* gyT, Py_ssize_t M,
                                   Py_ssize_t Ho, Py_ssize_t Wo, float* gw)
    void pyconv_direct_c8_f(const float* xp, Py_ssize_t Wp, const Py_ssize_t* offs,
                            Py_ssize_t K, const float* wpk, Py_ssize_t M, const float* bias,
                            int has_bias, int relu, float* out, Py_ssize_t Ho, Py_ssize_t Wo)
    void pyconv_direct_c8_wgrad_f(const float* xp, Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                                  Py_ssize_t kh, Py_ssize_t kw, const float* gp, Py_ssize_t M,
                                  Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t Wv, float* gw)
