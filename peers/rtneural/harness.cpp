// RTNeural side of `peers/rtneural`: the models of the benchmark as RTNeural's compile-time
// `ModelT` and as its run-time `Model<float>`, weights set from our export in Keras layout,
// one-step and timing functions behind a C interface.
//
// build.rs compiles this file twice (`-march=x86-64`, `-march=native`) with
// HARNESS_VARIANT=x86_64 or native. Both copies are linked into one binary, so everything a copy
// instantiates must be its own: templates and inline functions are emitted as weak (COMDAT)
// symbols, and the linker would otherwise keep one copy of, say, Eigen's matrix-vector kernel
// for both builds. Hence the two macros below, which give Eigen's and RTNeural's namespaces a
// per-build name (`Eigen_native::`, `RTNeural_x86_64::`), and the anonymous namespace around
// this file's own code. (Headers are included by quoted or <> header names, which macros do not
// touch.) The C functions are `rtn_x86_64_*` and `rtn_native_*`.
//
// Tensors arrive in the order of our `Model::export` (Keras layout, row-major, per layer):
//   lstm:  kernel [in, 4u], recurrent_kernel [u, 4u], bias [4u]        gates i, f, c, o
//   gru:   kernel [in, 3u], recurrent_kernel [u, 3u], bias [2, 3u]     gates z, r, h;
//          reset_after = true: bias row 0 is the input bias, row 1 the recurrent bias
//   dense: kernel [in, out], bias [out]
// and go to RTNeural as its headers say (RTNeural/lstm/lstm_eigen.tpp, gru/gru_eigen.tpp,
// dense/dense_eigen.h, commit 1fb1f075):
//   LSTMLayer(T)::setWVals(w[in][4u]), setUVals(u[u][4u]), setBVals(b[4u]): Keras's layout and
//     gate order i, f, c, o (it permutes to f, i, o, c internally);
//   GRULayer(T)::setWVals(w[in][3u]), setUVals(u[u][3u]), setBVals(b[2][3u]): Keras's layout,
//     gates z, r, h kept as they are, b[0] added to W x, b[1] to U h, and the candidate is
//     tanh(W_h x + b0_h + r * (U_h h + b1_h)): Keras's reset_after = true;
//   Dense(T)::setWeights(w[out][in]) (the transpose of Keras's kernel), setBias(b[out]).

#ifndef HARNESS_VARIANT
#error "HARNESS_VARIANT must be defined (x86_64 or native)"
#endif
#if defined(x86_64) || defined(native)
#error "the variant names must not be macros"
#endif

#define HARNESS_CAT2(a, b) a##_##b
#define HARNESS_CAT(a, b) HARNESS_CAT2(a, b)
#define Eigen HARNESS_CAT(Eigen, HARNESS_VARIANT)
#define RTNeural HARNESS_CAT(RTNeural, HARNESS_VARIANT)
#define HARNESS_FN(name) HARNESS_CAT(HARNESS_CAT(rtn, HARNESS_VARIANT), name)

// gru(64, 128)'s ModelT holds a 384 x 129 matrix (198 KB), over Eigen's default 128 KB limit for
// fixed-size objects (a static assertion; the model is allocated on the heap here). The limit
// also decides which internal temporaries go on the stack; none of these models has one near it.
#define EIGEN_STACK_ALLOCATION_LIMIT (1 << 20)

#include <RTNeural/RTNeural.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace
{
using RTNeural::DenseT;
using RTNeural::GRULayerT;
using RTNeural::LSTMLayerT;
using RTNeural::ModelT;
using RTNeural::SampleRateCorrectionMode;

// The models, by the `kind` number the Rust side passes.
using Card = ModelT<float, 32, 1, LSTMLayerT<float, 32, 16>, GRULayerT<float, 16, 16>, DenseT<float, 16, 1>>;
using Lstm40 = ModelT<float, 1, 1, LSTMLayerT<float, 1, 40>, DenseT<float, 40, 1>>;
using Gru8 = ModelT<float, 1, 1, GRULayerT<float, 1, 8>, DenseT<float, 8, 1>>;
using Lstm16x2 = ModelT<float, 1, 1, LSTMLayerT<float, 1, 16>, LSTMLayerT<float, 16, 16>, DenseT<float, 16, 1>>;
using Gru128 = ModelT<float, 64, 10, GRULayerT<float, 64, 128>, DenseT<float, 128, 10>>;

uint64_t thread_ns()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Walks the exported tensors in order, checking each one's element count.
struct Tensors
{
    const float* const* data;
    const size_t* numel;
    size_t count;
    size_t next = 0;
    bool ok = true;

    const float* take(size_t n)
    {
        if(next >= count || numel[next] != n)
        {
            ok = false;
            return nullptr;
        }
        return data[next++];
    }
};

// A row-major [rows, cols] tensor as rows.
std::vector<std::vector<float>> rows_of(const float* p, int rows, int cols)
{
    std::vector<std::vector<float>> m(rows, std::vector<float>(cols));
    for(int r = 0; r < rows; ++r)
        for(int c = 0; c < cols; ++c)
            m[r][c] = p[r * cols + c];
    return m;
}

// A row-major [rows, cols] tensor transposed: [cols][rows].
std::vector<std::vector<float>> transposed(const float* p, int rows, int cols)
{
    std::vector<std::vector<float>> m(cols, std::vector<float>(rows));
    for(int r = 0; r < rows; ++r)
        for(int c = 0; c < cols; ++c)
            m[c][r] = p[r * cols + c];
    return m;
}

template <typename L>
void set_lstm(L& l, int in, int u, Tensors& t)
{
    const float* k = t.take(size_t(in) * 4 * u);
    const float* r = t.take(size_t(u) * 4 * u);
    const float* b = t.take(size_t(4) * u);
    if(!t.ok)
        return;
    l.setWVals(rows_of(k, in, 4 * u));
    l.setUVals(rows_of(r, u, 4 * u));
    l.setBVals(std::vector<float>(b, b + 4 * u));
}

template <typename L>
void set_gru(L& l, int in, int u, Tensors& t)
{
    const float* k = t.take(size_t(in) * 3 * u);
    const float* r = t.take(size_t(u) * 3 * u);
    const float* b = t.take(size_t(2) * 3 * u);
    if(!t.ok)
        return;
    l.setWVals(rows_of(k, in, 3 * u));
    l.setUVals(rows_of(r, u, 3 * u));
    l.setBVals(rows_of(b, 2, 3 * u));
}

template <typename L>
void set_dense(L& l, int in, int out, Tensors& t)
{
    const float* k = t.take(size_t(in) * out);
    const float* b = t.take(size_t(out));
    if(!t.ok)
        return;
    l.setWeights(transposed(k, in, out));
    l.setBias(b);
}

// The compile-time layers.
template <int I, int U, SampleRateCorrectionMode M, typename P>
void set_layer(LSTMLayerT<float, I, U, M, P>& l, Tensors& t) { set_lstm(l, I, U, t); }
template <int I, int U, SampleRateCorrectionMode M, typename P>
void set_layer(GRULayerT<float, I, U, M, P>& l, Tensors& t) { set_gru(l, I, U, t); }
template <int I, int O, bool B>
void set_layer(DenseT<float, I, O, B>& l, Tensors& t) { set_dense(l, I, O, t); }

// The run-time layers matching them (tag pointers: no instance needed).
template <int I, int U, SampleRateCorrectionMode M, typename P>
void add_dynamic(RTNeural::Model<float>& m, LSTMLayerT<float, I, U, M, P>*, Tensors& t)
{
    auto* l = new RTNeural::LSTMLayer<float>(I, U);
    set_lstm(*l, I, U, t);
    m.addLayer(l);
}
template <int I, int U, SampleRateCorrectionMode M, typename P>
void add_dynamic(RTNeural::Model<float>& m, GRULayerT<float, I, U, M, P>*, Tensors& t)
{
    auto* l = new RTNeural::GRULayer<float>(I, U);
    set_gru(*l, I, U, t);
    m.addLayer(l);
}
template <int I, int O, bool B>
void add_dynamic(RTNeural::Model<float>& m, DenseT<float, I, O, B>*, Tensors& t)
{
    auto* l = new RTNeural::Dense<float>(I, O);
    set_dense(*l, I, O, t);
    m.addLayer(l);
}

// 64-byte aligned floats (ModelT's Eigen backend maps its input as an aligned vector).
struct AlignedFloats
{
    float* p = nullptr;
    explicit AlignedFloats(size_t n)
    {
        const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        p = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
        std::memset(p, 0, bytes ? bytes : 64);
    }
    ~AlignedFloats() { std::free(p); }
    AlignedFloats(const AlignedFloats&) = delete;
    AlignedFloats& operator=(const AlignedFloats&) = delete;
};

struct Runner
{
    int in, out;
    Runner(int in_, int out_) : in(in_), out(out_) {}
    virtual ~Runner() = default;
    virtual void reset() = 0;
    virtual void forward(const float* x, float* y) = 0;
    virtual uint64_t time(const float* xs, size_t len, size_t n, float* sink) = 0;

    // Each step's input starts on a 64-byte boundary (a one-input model reads a scalar).
    size_t stride() const { return in == 1 ? 1 : (size_t(in) + 15) / 16 * 16; }
};

// `n` streaming steps over `len` inputs (cycled) from the zero state; thread CPU time in ns.
// The loop is the same for every model type and is compiled here, with the model's code.
template <typename M>
uint64_t timed_loop(M& model, const float* seq, size_t stride, size_t len, size_t n, float* sink)
{
    model.reset();
    float acc = 0.0f;
    size_t j = 0;
    const uint64_t t0 = thread_ns();
    for(size_t k = 0; k < n; ++k)
    {
        acc += model.forward(seq + j * stride);
        if(++j == len)
            j = 0;
    }
    const uint64_t t1 = thread_ns();
    *sink = acc;
    return t1 - t0;
}

template <typename Runner_>
uint64_t time_with(Runner_& r, const float* xs, size_t len, size_t n, float* sink)
{
    const size_t s = r.stride();
    AlignedFloats seq(s * len);
    for(size_t j = 0; j < len; ++j)
        std::memcpy(seq.p + j * s, xs + j * size_t(r.in), size_t(r.in) * sizeof(float));
    return timed_loop(r.model, seq.p, s, len, n, sink);
}

template <typename MT>
struct Static final : Runner
{
    MT model;
    AlignedFloats x_buf { size_t(MT::input_size) };

    Static() : Runner(MT::input_size, MT::output_size) {}

    bool set(Tensors& t)
    {
        RTNeural::modelt_detail::forEachInTuple([&](auto& layer, size_t) { set_layer(layer, t); },
                                                model.getLayers());
        return t.ok && t.next == t.count;
    }
    void reset() override { model.reset(); }
    void forward(const float* x, float* y) override
    {
        std::memcpy(x_buf.p, x, size_t(in) * sizeof(float));
        model.forward(x_buf.p);
        std::memcpy(y, model.getOutputs(), size_t(out) * sizeof(float));
    }
    uint64_t time(const float* xs, size_t len, size_t n, float* sink) override
    {
        return time_with(*this, xs, len, n, sink);
    }
};

template <typename MT>
struct Dynamic final : Runner
{
    RTNeural::Model<float> model { MT::input_size };

    Dynamic() : Runner(MT::input_size, MT::output_size) {}

    bool set(Tensors& t)
    {
        using Tuple = std::remove_reference_t<decltype(std::declval<MT&>().getLayers())>;
        add_all<Tuple>(t, std::make_index_sequence<std::tuple_size<Tuple>::value> {});
        model.reset();
        return t.ok && t.next == t.count;
    }
    template <typename Tuple, size_t... Ix>
    void add_all(Tensors& t, std::index_sequence<Ix...>)
    {
        (add_dynamic(model, static_cast<std::tuple_element_t<Ix, Tuple>*>(nullptr), t), ...);
    }
    void reset() override { model.reset(); }
    void forward(const float* x, float* y) override
    {
        model.forward(x);
        std::memcpy(y, model.getOutputs(), size_t(out) * sizeof(float));
    }
    uint64_t time(const float* xs, size_t len, size_t n, float* sink) override
    {
        return time_with(*this, xs, len, n, sink);
    }
};

template <typename R>
Runner* build(Tensors& t)
{
    auto r = std::make_unique<R>();
    if(!r->set(t))
        return nullptr;
    r->reset();
    return r.release();
}

template <typename MT>
Runner* build_kind(int dynamic, Tensors& t)
{
    return dynamic ? build<Dynamic<MT>>(t) : build<Static<MT>>(t);
}
} // namespace

extern "C" {

// A model of `kind` (0 card, 1 lstm(1,40)->dense(1), 2 gru(1,8)->dense(1),
// 3 lstm(1,16)->lstm(16)->dense(1), 4 gru(64,128)->dense(10)): `dynamic` 0 for ModelT, 1 for
// Model<float>; `count` tensors in export order with their element counts. Null when the
// kind is unknown or a tensor's size or the number of tensors does not fit.
void* HARNESS_FN(create)(int kind, int dynamic, const float* const* data, const size_t* numel, size_t count)
{
    Tensors t { data, numel, count };
    switch(kind)
    {
        case 0: return build_kind<Card>(dynamic, t);
        case 1: return build_kind<Lstm40>(dynamic, t);
        case 2: return build_kind<Gru8>(dynamic, t);
        case 3: return build_kind<Lstm16x2>(dynamic, t);
        case 4: return build_kind<Gru128>(dynamic, t);
        default: return nullptr;
    }
}

int HARNESS_FN(input_size)(const void* m) { return static_cast<const Runner*>(m)->in; }
int HARNESS_FN(output_size)(const void* m) { return static_cast<const Runner*>(m)->out; }

// Zeroes the recurrent state (`model.reset()`).
void HARNESS_FN(reset)(void* m) { static_cast<Runner*>(m)->reset(); }

// One streaming step (`model.forward(x)`): reads input_size floats, writes output_size.
void HARNESS_FN(forward)(void* m, const float* x, float* y) { static_cast<Runner*>(m)->forward(x, y); }

// Resets, then runs `n` steps over the `len` inputs of `xs` (row-major [len, input_size],
// cycled); returns the thread CPU time (CLOCK_THREAD_CPUTIME_ID) of the loop in ns and writes
// the sum of the first outputs to `sink`.
uint64_t HARNESS_FN(time)(void* m, const float* xs, size_t len, size_t n, float* sink)
{
    return static_cast<Runner*>(m)->time(xs, len, n, sink);
}

void HARNESS_FN(destroy)(void* m) { delete static_cast<Runner*>(m); }
}
