// fmscript's mlx CPU extension: a fused cross-entropy and a linear layer on bf16 frozen weights.
//
// Why (bench/README.md has the figures): mlx's CPU back end evaluates the log-sum-exp of a (tokens x vocab)
// logits matrix as several passes with a scalar exp, and multiplies bf16 matrices in its own scalar loop
// (~6 GFLOP/s here) instead of MKL's bf16 GEMM. Built on first use against the installed mlx
// (fmscript/ai/fastext.py); every function has a pure-mlx fallback that gives the same results.
#include <dlfcn.h>

#include <map>
#include <mutex>
#include <tuple>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/stl/variant.h>

#include "mlx/backend/cpu/encoder.h"
#include "mlx/mlx.h"
#include "mlx/primitives.h"

#ifdef FMEXT_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace mx = mlx::core;
namespace nb = nanobind;
using namespace nb::literals;

namespace fmext {

// ------------------------------------------------------------------------------------------------ exp
// The same exp as fastmath.py (degree-7 polynomial times 2**n, ~1 ulp), written so that the compiler vectorises it.
static inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = (x * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof(float));
  return p * two_n;
}

// ------------------------------------------------------------------------------------------------ cross-entropy
// loss[i] = logsumexp(logits[i]) - logits[i, targets[i]]; the second output (lse) is kept for the backward pass.
class CrossEntropy : public mx::Primitive {
 public:
  explicit CrossEntropy(mx::Stream s) : mx::Primitive(s) {}
  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override;
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("fmext.CrossEntropy runs on the CPU only");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override;
  const char* name() const override { return "FmCrossEntropy"; }
  bool is_equivalent(const mx::Primitive&) const override { return true; }
};

// dlogits[i, j] = (softmax(logits[i])[j] - [j == targets[i]]) * cot[i]
class CrossEntropyGrad : public mx::UnaryPrimitive {
 public:
  explicit CrossEntropyGrad(mx::Stream s) : mx::UnaryPrimitive(s) {}
  void eval_cpu(const std::vector<mx::array>& in, mx::array& out) override;
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("fmext.CrossEntropyGrad runs on the CPU only");
  }
  const char* name() const override { return "FmCrossEntropyGrad"; }
  bool is_equivalent(const mx::Primitive&) const override { return true; }
};

static void check_rows(const mx::array& logits, const mx::array& targets) {
  if (logits.ndim() != 2 || targets.ndim() != 1 || targets.shape(0) != logits.shape(0)) {
    throw std::invalid_argument("cross_entropy: logits (N, V) and targets (N,) expected");
  }
}

mx::array cross_entropy(const mx::array& logits, const mx::array& targets, mx::StreamOrDevice s = {}) {
  check_rows(logits, targets);
  auto st = mx::to_stream(s);
  auto l = mx::contiguous(mx::astype(logits, mx::float32, st), false, st);
  auto t = mx::contiguous(mx::astype(targets, mx::int32, st), false, st);
  mx::Shape rows = {logits.shape(0)};
  auto outs = mx::array::make_arrays({rows, rows}, {mx::float32, mx::float32},
                                     std::make_shared<CrossEntropy>(st), {l, t});
  return outs[0];
}

void CrossEntropy::eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) {
  auto& logits = in[0];
  auto& targets = in[1];
  out[0].set_data(mx::allocator::malloc(out[0].nbytes()));
  out[1].set_data(mx::allocator::malloc(out[1].nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  enc.set_input_array(logits);
  enc.set_input_array(targets);
  enc.set_output_array(out[0]);
  enc.set_output_array(out[1]);
  enc.dispatch([l = logits.data<float>(), t = targets.data<int32_t>(), loss = out[0].data<float>(),
                lse = out[1].data<float>(), N = logits.shape(0), V = logits.shape(1)]() {
    for (int64_t i = 0; i < N; ++i) {
      const float* row = l + i * V;
      float m = row[0];
      for (int64_t j = 1; j < V; ++j) m = row[j] > m ? row[j] : m;
      float s = 0.0f;
      for (int64_t j = 0; j < V; ++j) s += fast_exp(row[j] - m);
      const float z = m + std::log(s);
      const int32_t k = t[i];
      lse[i] = z;
      loss[i] = (k >= 0 && k < V) ? z - row[k] : 0.0f;
    }
  });
}

std::vector<mx::array> CrossEntropy::vjp(const std::vector<mx::array>& primals,
                                         const std::vector<mx::array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<mx::array>& outputs) {
  std::vector<mx::array> grads;
  for (int a : argnums) {
    if (a == 0) {
      auto cot = mx::contiguous(mx::astype(cotangents[0], mx::float32, stream()), false, stream());
      grads.push_back(mx::array(primals[0].shape(), mx::float32, std::make_shared<CrossEntropyGrad>(stream()),
                                {primals[0], primals[1], outputs[1], cot}));
    } else {
      grads.push_back(mx::zeros_like(primals[a], stream()));
    }
  }
  return grads;
}

void CrossEntropyGrad::eval_cpu(const std::vector<mx::array>& in, mx::array& out) {
  out.set_data(mx::allocator::malloc(out.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  for (auto& a : in) enc.set_input_array(a);
  enc.set_output_array(out);
  enc.dispatch([l = in[0].data<float>(), t = in[1].data<int32_t>(), lse = in[2].data<float>(),
                c = in[3].data<float>(), g = out.data<float>(), N = in[0].shape(0), V = in[0].shape(1)]() {
    for (int64_t i = 0; i < N; ++i) {
      const float* row = l + i * V;
      float* grow = g + i * V;
      const float z = lse[i], ci = c[i];
      for (int64_t j = 0; j < V; ++j) grow[j] = fast_exp(row[j] - z) * ci;
      const int32_t k = t[i];
      if (k >= 0 && k < V) grow[k] -= ci;
    }
  });
}

// ------------------------------------------------------------------------------------------------ bf16 GEMM
// MKL's cblas_gemm_bf16bf16f32, found in the process (the training worker preloads MKL); absent: unavailable.
using GemmBf16 = void (*)(int layout, int transa, int transb, int64_t m, int64_t n, int64_t k, float alpha,
                          const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float beta, float* c,
                          int64_t ldc);
static GemmBf16 gemm_bf16() {
  static GemmBf16 fn = reinterpret_cast<GemmBf16>(dlsym(RTLD_DEFAULT, "cblas_gemm_bf16bf16f32"));
  return fn;
}
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

#ifdef FMEXT_DNNL
// oneDNN's bf16 matmul (brgemm with AVX512-BF16 where the CPU has it, on AMD too, where MKL's bf16 GEMM is no
// faster than its sgemm): one primitive per shape, kept for the life of the process.
struct Dnnl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::map<std::tuple<bool, int64_t, int64_t, int64_t, int64_t>, dnnl::matmul> cache;
  std::mutex mu;
  std::mutex run_mu;
};
static Dnnl& dnnl_state() {
  static Dnnl d;
  return d;
}
#endif

// y (M, N) = a (M, K) @ (w^T if tw else w); w is (N, K) or (K, N) row-major with wcols columns.
static void gemm(bool tw, int64_t M, int64_t N, int64_t K, const uint16_t* a, const uint16_t* w, int64_t wcols,
                 float* y) {
#ifdef FMEXT_DNNL
  using dt = dnnl::memory::data_type;
  auto& d = dnnl_state();
  dnnl::matmul mm;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    auto key = std::make_tuple(tw, M, N, K, wcols);
    auto it = d.cache.find(key);
    if (it == d.cache.end()) {
      dnnl::memory::desc ad({M, K}, dt::bf16, {K, 1});
      dnnl::memory::desc wd({K, N}, dt::bf16, tw ? dnnl::memory::dims{1, wcols} : dnnl::memory::dims{wcols, 1});
      dnnl::memory::desc yd({M, N}, dt::f32, {N, 1});
      it = d.cache.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, wd, yd), d.eng)))
               .first;
    }
    mm = it->second;
  }
  dnnl::memory::desc ad({M, K}, dt::bf16, {K, 1});
  dnnl::memory::desc wd({K, N}, dt::bf16, tw ? dnnl::memory::dims{1, wcols} : dnnl::memory::dims{wcols, 1});
  dnnl::memory::desc yd({M, N}, dt::f32, {N, 1});
  dnnl::memory am(ad, d.eng, const_cast<uint16_t*>(a)), wm(wd, d.eng, const_cast<uint16_t*>(w)), ym(yd, d.eng, y);
  // One product at a time: two mlx streams (cpu_streams=2) call this concurrently, and oneDNN's default build
  // shares one scratchpad between primitives and its stream is not meant for concurrent submission.
  std::lock_guard<std::mutex> lock(d.run_mu);
  mm.execute(d.strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
  d.strm.wait();
#else
  gemm_bf16()(kRowMajor, kNoTrans, tw ? kTrans : kNoTrans, M, N, K, 1.0f, a, K, w, wcols, 0.0f, y, N);
#endif
}

static bool have_gemm() {
#ifdef FMEXT_DNNL
  return true;
#else
  return gemm_bf16() != nullptr;
#endif
}

static const char* gemm_name() {
#ifdef FMEXT_DNNL
  return "oneDNN";
#else
  return gemm_bf16() ? "MKL" : "";
#endif
}

static inline uint16_t to_bf16(float f) {  // round to nearest even, like mlx's astype
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// out (M, N) float32 = bf16(x) (M, K) @ w^T when transpose_w (w is (N, K)), else bf16(x) (M, K) @ w (w is (K, N)).
class Bf16Matmul : public mx::UnaryPrimitive {
 public:
  Bf16Matmul(mx::Stream s, bool transpose_w) : mx::UnaryPrimitive(s), transpose_w_(transpose_w) {}
  void eval_cpu(const std::vector<mx::array>& in, mx::array& out) override;
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("fmext.Bf16Matmul runs on the CPU only");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override;
  const char* name() const override { return "FmBf16Matmul"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return static_cast<const Bf16Matmul&>(other).transpose_w_ == transpose_w_;
  }

 private:
  bool transpose_w_;
};

static mx::array bf16_matmul_2d(const mx::array& x, const mx::array& w, bool transpose_w, mx::Stream st) {
  int n = transpose_w ? w.shape(0) : w.shape(1);
  return mx::array({x.shape(0), n}, mx::float32, std::make_shared<Bf16Matmul>(st, transpose_w),
                   {mx::contiguous(x, false, st), mx::contiguous(w, false, st)});
}

// y = x @ w.T for x (..., K) float32 and a frozen bf16 weight w (N, K), computed by MKL's bf16 GEMM.
mx::array bf16_linear(const mx::array& x, const mx::array& w, mx::StreamOrDevice s = {}) {
  if (!have_gemm()) throw std::runtime_error("no bf16 GEMM: fmext was built without oneDNN and MKL is not loaded");
  if (w.ndim() != 2 || w.dtype() != mx::bfloat16 || x.ndim() < 1 || x.shape(-1) != w.shape(1)) {
    throw std::invalid_argument("bf16_linear: x (..., K) and a bfloat16 weight (N, K) expected");
  }
  auto st = mx::to_stream(s);
  auto xs = x.shape();
  int K = xs.back();
  auto x2 = mx::reshape(mx::astype(x, mx::float32, st), {-1, K}, st);
  auto y = bf16_matmul_2d(x2, w, true, st);
  xs.back() = w.shape(0);
  return mx::reshape(y, xs, st);
}

void Bf16Matmul::eval_cpu(const std::vector<mx::array>& in, mx::array& out) {
  auto& x = in[0];
  auto& w = in[1];
  out.set_data(mx::allocator::malloc(out.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  enc.set_input_array(x);
  enc.set_input_array(w);
  enc.set_output_array(out);
  enc.dispatch([xp = x.data<float>(), wp = w.data<uint16_t>(), yp = out.data<float>(), M = x.shape(0),
                K = x.shape(1), N = out.shape(1), wcols = w.shape(1), tw = transpose_w_]() {
    std::vector<uint16_t> xb(static_cast<size_t>(M) * K);
    for (size_t i = 0; i < xb.size(); ++i) xb[i] = to_bf16(xp[i]);
    gemm(tw, M, N, K, xb.data(), wp, wcols, yp);
  });
}

std::vector<mx::array> Bf16Matmul::vjp(const std::vector<mx::array>& primals,
                                       const std::vector<mx::array>& cotangents, const std::vector<int>& argnums,
                                       const std::vector<mx::array>&) {
  std::vector<mx::array> grads;
  for (int a : argnums) {
    if (a == 0) {  // d x = dy @ w (transpose_w) or dy @ w^T: the same GEMM, the other way round
      auto dy = mx::astype(cotangents[0], mx::float32, stream());
      grads.push_back(bf16_matmul_2d(dy, primals[1], !transpose_w_, stream()));
    } else {  // the bf16 weight is frozen
      grads.push_back(mx::zeros_like(primals[a], stream()));
    }
  }
  return grads;
}


// ------------------------------------------------------------------------------------------------ attention
// Causal attention on contiguous (B, H, T, D) float32 q, k, v: per (batch, head), S = scale q k^T over the allowed
// keys only, a softmax on the polynomial exp in the same pass, O = P v; P is kept (a second output) for the
// backward pass, as mlx's composed ops keep it too. The (batch, head) pairs are shared among threads
// (FMSCRIPT_EXT_THREADS, default 2): mlx's own CPU ops run on one thread, only BLAS calls use more.
using Sgemm = void (*)(int layout, int transa, int transb, int m, int n, int k, float alpha, const float* a,
                       int lda, const float* b, int ldb, float beta, float* c, int ldc);
static Sgemm sgemm() {
  static Sgemm fn = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
  return fn;
}
static int clamp_threads(int v) {
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, std::min(v, hw > 0 ? hw : 1));
}
// Read once from the environment; set_threads changes it (the trainer's cpu_streams=2 runs two mlx streams, each
// with one kernel thread, so that two streams do not put four threads on two cores).
static std::atomic<int> g_ext_threads{[] {
  const char* e = std::getenv("FMSCRIPT_EXT_THREADS");
  return clamp_threads(e ? std::atoi(e) : 2);
}()};
static int ext_threads() { return g_ext_threads.load(std::memory_order_relaxed); }
int set_threads(int n) { return g_ext_threads.exchange(clamp_threads(n)); }
int threads() { return ext_threads(); }
template <typename F>
static void parallel_for(int64_t n, F&& f) {
  int nt = static_cast<int>(std::min<int64_t>(ext_threads(), n));
  if (nt <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < nt; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = t; i < n; i += nt) f(i);
    });
  }
  for (int64_t i = 0; i < n; i += nt) f(i);
  for (auto& th : pool) th.join();
}

class CausalAttention : public mx::Primitive {
 public:
  CausalAttention(mx::Stream s, float scale) : mx::Primitive(s), scale_(scale) {}
  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override;
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("fmext.CausalAttention runs on the CPU only");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override;
  const char* name() const override { return "FmCausalAttention"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return static_cast<const CausalAttention&>(other).scale_ == scale_;
  }

 private:
  float scale_;
};

// Outputs dq, dk, dv from q, k, v, P and dO.
class CausalAttentionGrad : public mx::Primitive {
 public:
  CausalAttentionGrad(mx::Stream s, float scale) : mx::Primitive(s), scale_(scale) {}
  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override;
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("fmext.CausalAttentionGrad runs on the CPU only");
  }
  const char* name() const override { return "FmCausalAttentionGrad"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return static_cast<const CausalAttentionGrad&>(other).scale_ == scale_;
  }

 private:
  float scale_;
};

mx::array causal_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                           mx::StreamOrDevice s = {}) {
  if (q.ndim() != 4 || k.shape() != q.shape() || v.shape() != q.shape() || q.dtype() != mx::float32 ||
      k.dtype() != mx::float32 || v.dtype() != mx::float32) {
    throw std::invalid_argument("causal_attention: float32 q, k, v of one shape (B, H, T, D) expected");
  }
  if (!sgemm()) throw std::runtime_error("causal_attention: no cblas_sgemm in this process");
  auto st = mx::to_stream(s);
  auto c = [&](const mx::array& a) { return mx::contiguous(a, false, st); };
  mx::Shape pshape = {q.shape(0), q.shape(1), q.shape(2), q.shape(2)};
  auto outs = mx::array::make_arrays({q.shape(), pshape}, {mx::float32, mx::float32},
                                     std::make_shared<CausalAttention>(st, scale), {c(q), c(k), c(v)});
  return outs[0];
}

void CausalAttention::eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) {
  for (auto& o : out) o.set_data(mx::allocator::malloc(o.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  for (auto& a : in) enc.set_input_array(a);
  for (auto& o : out) enc.set_output_array(o);
  enc.dispatch([q = in[0].data<float>(), k = in[1].data<float>(), v = in[2].data<float>(), o = out[0].data<float>(),
                P = out[1].data<float>(), BH = in[0].shape(0) * in[0].shape(1), T = in[0].shape(2),
                D = in[0].shape(3), scale = scale_]() {
    parallel_for(BH, [&](int64_t bh) {
      const float* qb = q + bh * T * D;
      const float* kb = k + bh * T * D;
      const float* vb = v + bh * T * D;
      float* pb = P + bh * T * T;
      // S = scale q k^T (the masked upper triangle is computed by the GEMM too, then zeroed: one call is
      // cheaper than T small ones at these sizes)
      sgemm()(kRowMajor, kNoTrans, kTrans, T, T, D, scale, qb, D, kb, D, 0.0f, pb, T);
      for (int64_t i = 0; i < T; ++i) {
        float* row = pb + i * T;
        float m = row[0];
        for (int64_t j = 1; j <= i; ++j) m = row[j] > m ? row[j] : m;
        float sum = 0.0f;
        for (int64_t j = 0; j <= i; ++j) {
          row[j] = fast_exp(row[j] - m);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
        for (int64_t j = i + 1; j < T; ++j) row[j] = 0.0f;
      }
      sgemm()(kRowMajor, kNoTrans, kNoTrans, T, D, T, 1.0f, pb, T, vb, D, 0.0f, o + bh * T * D, D);
    });
  });
}

std::vector<mx::array> CausalAttention::vjp(const std::vector<mx::array>& primals,
                                            const std::vector<mx::array>& cotangents,
                                            const std::vector<int>& argnums, const std::vector<mx::array>& outputs) {
  auto d_o = mx::contiguous(mx::astype(cotangents[0], mx::float32, stream()), false, stream());
  auto grads = mx::array::make_arrays({primals[0].shape(), primals[0].shape(), primals[0].shape()},
                                      {mx::float32, mx::float32, mx::float32},
                                      std::make_shared<CausalAttentionGrad>(stream(), scale_),
                                      {primals[0], primals[1], primals[2], outputs[1], d_o});
  std::vector<mx::array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}

void CausalAttentionGrad::eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) {
  for (auto& o : out) o.set_data(mx::allocator::malloc(o.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  for (auto& a : in) enc.set_input_array(a);
  for (auto& o : out) enc.set_output_array(o);
  enc.dispatch([q = in[0].data<float>(), k = in[1].data<float>(), v = in[2].data<float>(), P = in[3].data<float>(),
                dO = in[4].data<float>(), dq = out[0].data<float>(), dk = out[1].data<float>(),
                dv = out[2].data<float>(), BH = in[0].shape(0) * in[0].shape(1), T = in[0].shape(2),
                D = in[0].shape(3), scale = scale_]() {
    parallel_for(BH, [&](int64_t bh) {
      const int64_t off = bh * T * D;
      const float* pb = P + bh * T * T;
      std::vector<float> dS(static_cast<size_t>(T) * T);
      sgemm()(kRowMajor, kTrans, kNoTrans, T, D, T, 1.0f, pb, T, dO + off, D, 0.0f, dv + off, D);  // dV = P^T dO
      sgemm()(kRowMajor, kNoTrans, kTrans, T, T, D, 1.0f, dO + off, D, v + off, D, 0.0f, dS.data(), T);  // dP
      for (int64_t i = 0; i < T; ++i) {  // dS = P (dP - rowsum(P dP)), zero above the diagonal
        const float* prow = pb + i * T;
        float* drow = dS.data() + i * T;
        float delta = 0.0f;
        for (int64_t j = 0; j <= i; ++j) delta += prow[j] * drow[j];
        for (int64_t j = 0; j <= i; ++j) drow[j] = prow[j] * (drow[j] - delta);
        for (int64_t j = i + 1; j < T; ++j) drow[j] = 0.0f;
      }
      sgemm()(kRowMajor, kNoTrans, kNoTrans, T, D, T, scale, dS.data(), T, k + off, D, 0.0f, dq + off, D);
      sgemm()(kRowMajor, kTrans, kNoTrans, T, D, T, scale, dS.data(), T, q + off, D, 0.0f, dk + off, D);
    });
  });
}

// ------------------------------------------------------------------------------------------------ packed attention
// Attention for rows packed one after another without padding ("linears on unpadded tokens"): q (N, H*D) and
// k, v (N, Hkv*D) straight from the projections, rows (R, 2) = (start, length) per batch row, inv_freq (D/2,)
// the RoPE frequencies (times RoPE's scale). Per (row, kv head): RoPE on q and k at positions 0..length-1,
// causal softmax(scale q k^T) v over the row's own tokens, output packed (N, H*D) for o_proj. Saved for the
// backward pass: the rotated q and k and the log-sum-exp per (token, head) (P is recomputed: its size depends
// on the row lengths, which are data).
static void rope_rows(const float* x, float* y, int64_t N, int64_t heads, int64_t D, const int32_t* rows, int64_t R,
                      const float* inv_freq, float sign) {
  const int64_t half = D / 2;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t start = rows[2 * r], len = rows[2 * r + 1];
    for (int64_t t = 0; t < len; ++t) {
      const int64_t i = start + t;
      if (i >= N) break;
      for (int64_t f = 0; f < half; ++f) {
        const float th = static_cast<float>(t) * inv_freq[f];
        const float c = std::cos(th), sn = sign * std::sin(th);
        for (int64_t h = 0; h < heads; ++h) {
          const float* a = x + i * heads * D + h * D;
          float* b = y + i * heads * D + h * D;
          const float x1 = a[f], x2 = a[f + half];
          b[f] = x1 * c - x2 * sn;
          b[f + half] = x1 * sn + x2 * c;
        }
      }
    }
  }
}

struct PackedShape {
  int64_t N, H, G, D, R;  // tokens, query heads, kv heads, head size, rows
};

class PackedAttention : public mx::Primitive {
 public:
  PackedAttention(mx::Stream s, int H, int G, float scale) : mx::Primitive(s), H_(H), G_(G), scale_(scale) {}
  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override;
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("fmext.PackedAttention runs on the CPU only");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override;
  const char* name() const override { return "FmPackedAttention"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    auto& o = static_cast<const PackedAttention&>(other);
    return o.H_ == H_ && o.G_ == G_ && o.scale_ == scale_;
  }

 private:
  int H_, G_;
  float scale_;
};

class PackedAttentionGrad : public mx::Primitive {
 public:
  PackedAttentionGrad(mx::Stream s, int H, int G, float scale) : mx::Primitive(s), H_(H), G_(G), scale_(scale) {}
  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override;
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("fmext.PackedAttentionGrad runs on the CPU only");
  }
  const char* name() const override { return "FmPackedAttentionGrad"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    auto& o = static_cast<const PackedAttentionGrad&>(other);
    return o.H_ == H_ && o.G_ == G_ && o.scale_ == scale_;
  }

 private:
  int H_, G_;
  float scale_;
};

mx::array packed_attention(const mx::array& q, const mx::array& k, const mx::array& v, const mx::array& rows,
                           const mx::array& inv_freq, int n_heads, int n_kv_heads, float scale,
                           mx::StreamOrDevice s = {}) {
  if (q.ndim() != 2 || k.ndim() != 2 || v.shape() != k.shape() || q.shape(0) != k.shape(0) || n_heads <= 0 ||
      n_kv_heads <= 0 || n_heads % n_kv_heads || q.shape(1) % n_heads || rows.ndim() != 2 || rows.shape(1) != 2) {
    throw std::invalid_argument("packed_attention: q (N, H*D), k and v (N, Hkv*D), rows (R, 2) expected");
  }
  int D = q.shape(1) / n_heads;
  if (k.shape(1) != n_kv_heads * D || D % 2 || inv_freq.size() != D / 2) {
    throw std::invalid_argument("packed_attention: head sizes or RoPE frequencies do not match");
  }
  if (!sgemm()) throw std::runtime_error("packed_attention: no cblas_sgemm in this process");
  auto st = mx::to_stream(s);
  auto f32 = [&](const mx::array& a) { return mx::contiguous(mx::astype(a, mx::float32, st), false, st); };
  auto r32 = mx::contiguous(mx::astype(rows, mx::int32, st), false, st);
  auto outs = mx::array::make_arrays({q.shape(), q.shape(), k.shape(), {q.shape(0), n_heads}},
                                     {mx::float32, mx::float32, mx::float32, mx::float32},
                                     std::make_shared<PackedAttention>(st, n_heads, n_kv_heads, scale),
                                     {f32(q), f32(k), f32(v), r32, f32(inv_freq)});
  return outs[0];
}

// S (L x L) = scale * q_h k_g^T for one row and head, then P = exp(S - lse) below the diagonal, 0 above.
static void row_scores(const float* qr, const float* kr, float* S, int64_t L, int64_t D, int64_t ldq, int64_t ldk,
                       float scale) {
  sgemm()(kRowMajor, kNoTrans, kTrans, L, L, D, scale, qr, ldq, kr, ldk, 0.0f, S, L);
}

void PackedAttention::eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) {
  for (auto& o : out) o.set_data(mx::allocator::malloc(o.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  for (auto& a : in) enc.set_input_array(a);
  for (auto& o : out) enc.set_output_array(o);
  PackedShape sh{in[0].shape(0), H_, G_, in[0].shape(1) / H_, in[3].shape(0)};
  enc.dispatch([q = in[0].data<float>(), k = in[1].data<float>(), v = in[2].data<float>(),
                rows = in[3].data<int32_t>(), fr = in[4].data<float>(), o = out[0].data<float>(),
                qr = out[1].data<float>(), kr = out[2].data<float>(), lse = out[3].data<float>(), sh,
                scale = scale_]() {
    const int64_t N = sh.N, H = sh.H, G = sh.G, D = sh.D, R = sh.R, per = H / G;
    std::memset(o, 0, sizeof(float) * N * H * D);  // tokens outside every row stay 0
    std::fill(lse, lse + N * H, 0.0f);
    std::memset(qr, 0, sizeof(float) * N * H * D);
    std::memset(kr, 0, sizeof(float) * N * G * D);
    rope_rows(q, qr, N, H, D, rows, R, fr, 1.0f);
    rope_rows(k, kr, N, G, D, rows, R, fr, 1.0f);
    parallel_for(R * G, [&](int64_t job) {
      const int64_t r = job / G, g = job % G;
      const int64_t start = rows[2 * r], L = std::min<int64_t>(rows[2 * r + 1], N - start);
      if (L <= 0) return;
      std::vector<float> S(static_cast<size_t>(L) * L);
      for (int64_t h = g * per; h < (g + 1) * per; ++h) {
        row_scores(qr + start * H * D + h * D, kr + start * G * D + g * D, S.data(), L, D, H * D, G * D, scale);
        for (int64_t i = 0; i < L; ++i) {
          float* row = S.data() + i * L;
          float m = row[0];
          for (int64_t j = 1; j <= i; ++j) m = row[j] > m ? row[j] : m;
          float sum = 0.0f;
          for (int64_t j = 0; j <= i; ++j) {
            row[j] = fast_exp(row[j] - m);
            sum += row[j];
          }
          const float inv = 1.0f / sum;
          for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
          for (int64_t j = i + 1; j < L; ++j) row[j] = 0.0f;
          lse[(start + i) * H + h] = m + std::log(sum);
        }
        sgemm()(kRowMajor, kNoTrans, kNoTrans, L, D, L, 1.0f, S.data(), L, v + start * G * D + g * D, G * D, 0.0f,
                o + start * H * D + h * D, H * D);
      }
    });
  });
}

std::vector<mx::array> PackedAttention::vjp(const std::vector<mx::array>& primals,
                                            const std::vector<mx::array>& cotangents,
                                            const std::vector<int>& argnums, const std::vector<mx::array>& outputs) {
  auto d_o = mx::contiguous(mx::astype(cotangents[0], mx::float32, stream()), false, stream());
  auto grads = mx::array::make_arrays(
      {primals[0].shape(), primals[1].shape(), primals[2].shape()}, {mx::float32, mx::float32, mx::float32},
      std::make_shared<PackedAttentionGrad>(stream(), H_, G_, scale_),
      {outputs[1], outputs[2], primals[2], outputs[3], d_o, primals[3], primals[4]});
  std::vector<mx::array> out;
  for (int a : argnums) {
    if (a < 3) {
      out.push_back(grads[a]);
    } else {
      out.push_back(mx::zeros_like(primals[a], stream()));
    }
  }
  return out;
}

void PackedAttentionGrad::eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) {
  for (auto& o : out) o.set_data(mx::allocator::malloc(o.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  for (auto& a : in) enc.set_input_array(a);
  for (auto& o : out) enc.set_output_array(o);
  PackedShape sh{in[0].shape(0), H_, G_, in[0].shape(1) / H_, in[5].shape(0)};
  enc.dispatch([qr = in[0].data<float>(), kr = in[1].data<float>(), v = in[2].data<float>(),
                lse = in[3].data<float>(), dO = in[4].data<float>(), rows = in[5].data<int32_t>(),
                fr = in[6].data<float>(), dq = out[0].data<float>(), dk = out[1].data<float>(),
                dv = out[2].data<float>(), sh, scale = scale_]() {
    const int64_t N = sh.N, H = sh.H, G = sh.G, D = sh.D, R = sh.R, per = H / G;
    std::vector<float> dqr(static_cast<size_t>(N) * H * D, 0.0f), dkr(static_cast<size_t>(N) * G * D, 0.0f);
    std::memset(dv, 0, sizeof(float) * N * G * D);
    parallel_for(R * G, [&](int64_t job) {
      const int64_t r = job / G, g = job % G;
      const int64_t start = rows[2 * r], L = std::min<int64_t>(rows[2 * r + 1], N - start);
      if (L <= 0) return;
      std::vector<float> P(static_cast<size_t>(L) * L), dS(static_cast<size_t>(L) * L);
      const float* kg = kr + start * G * D + g * D;
      const float* vg = v + start * G * D + g * D;
      for (int64_t h = g * per; h < (g + 1) * per; ++h) {
        const float* qh = qr + start * H * D + h * D;
        const float* doh = dO + start * H * D + h * D;
        row_scores(qh, kg, P.data(), L, D, H * D, G * D, scale);
        for (int64_t i = 0; i < L; ++i) {
          float* row = P.data() + i * L;
          const float z = lse[(start + i) * H + h];
          for (int64_t j = 0; j <= i; ++j) row[j] = fast_exp(row[j] - z);
          for (int64_t j = i + 1; j < L; ++j) row[j] = 0.0f;
        }
        // dV_g += P^T dO_h ; dP = dO_h V_g^T
        sgemm()(kRowMajor, kTrans, kNoTrans, L, D, L, 1.0f, P.data(), L, doh, H * D, 1.0f,
                dv + start * G * D + g * D, G * D);
        sgemm()(kRowMajor, kNoTrans, kTrans, L, L, D, 1.0f, doh, H * D, vg, G * D, 0.0f, dS.data(), L);
        for (int64_t i = 0; i < L; ++i) {
          const float* prow = P.data() + i * L;
          float* drow = dS.data() + i * L;
          float delta = 0.0f;
          for (int64_t j = 0; j <= i; ++j) delta += prow[j] * drow[j];
          for (int64_t j = 0; j <= i; ++j) drow[j] = prow[j] * (drow[j] - delta);
          for (int64_t j = i + 1; j < L; ++j) drow[j] = 0.0f;
        }
        sgemm()(kRowMajor, kNoTrans, kNoTrans, L, D, L, scale, dS.data(), L, kg, G * D, 0.0f,
                dqr.data() + start * H * D + h * D, H * D);
        sgemm()(kRowMajor, kTrans, kNoTrans, L, D, L, scale, dS.data(), L, qh, H * D, 1.0f,
                dkr.data() + start * G * D + g * D, G * D);
      }
    });
    // RoPE is a rotation: its gradient is the rotation back (tokens outside every row get 0)
    std::memset(dq, 0, sizeof(float) * N * H * D);
    std::memset(dk, 0, sizeof(float) * N * G * D);
    rope_rows(dqr.data(), dq, N, H, D, rows, R, fr, -1.0f);
    rope_rows(dkr.data(), dk, N, G, D, rows, R, fr, -1.0f);
  });
}

const char* bf16_gemm() { return have_gemm() ? gemm_name() : ""; }

}  // namespace fmext

NB_MODULE(_fmext, m) {
  m.doc() = "fmscript's mlx CPU kernels (fused cross-entropy, bf16 frozen linears)";
  m.def("cross_entropy", &fmext::cross_entropy, "logits"_a, "targets"_a, nb::kw_only(), "stream"_a = nb::none(),
        "Per-row cross-entropy of (N, V) logits against (N,) int targets.");
  m.def("bf16_linear", &fmext::bf16_linear, "x"_a, "weight"_a, nb::kw_only(), "stream"_a = nb::none(),
        "x @ weight.T with a frozen bfloat16 weight, by MKL's bf16 GEMM.");
  m.def("causal_attention", &fmext::causal_attention, "q"_a, "k"_a, "v"_a, "scale"_a, nb::kw_only(),
        "stream"_a = nb::none(), "Causal softmax(scale q k^T) v for float32 (B, H, T, D) q, k, v.");
  m.def("packed_attention", &fmext::packed_attention, "q"_a, "k"_a, "v"_a, "rows"_a, "inv_freq"_a, "n_heads"_a,
        "n_kv_heads"_a, "scale"_a, nb::kw_only(), "stream"_a = nb::none(),
        "RoPE and causal attention over rows packed without padding: q (N, H*D), k, v (N, Hkv*D), "
        "rows (R, 2) = (start, length).");
  m.def("set_threads", &fmext::set_threads, "n"_a,
        "Threads for the attention kernels (FMSCRIPT_EXT_THREADS at load); returns the previous count.");
  m.def("threads", &fmext::threads, "Threads the attention kernels use now.");
  m.def("bf16_gemm", &fmext::bf16_gemm, "The bf16 GEMM bf16_linear uses ('oneDNN', 'MKL'), or '' when none.");
}
