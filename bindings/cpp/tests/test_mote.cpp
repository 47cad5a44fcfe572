// Tests of bindings/cpp/mote.hpp, built with g++ and run by ffi/tests/cpp_bindings.rs:
//
//   test_mote MODEL.onnx PIXELS.f32 N OUT.f32
//
// PIXELS.f32 holds N*64 raw little-endian floats (the demo model's test images). Runs the
// model through the wrapper and writes the N*10 probabilities to OUT.f32, which the Rust
// test compares with the Rust API's; checks along the way the descriptions, loading from
// memory, the error paths (each throws mote::Error with its status and a message) and move
// semantics. Prints "FAIL: ..." and exits 1 on the first failed check.
#include "mote.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// Handles are owned once: movable, not copyable.
static_assert(!std::is_copy_constructible<mote::Tensor>::value, "Tensor is not copyable");
static_assert(!std::is_copy_assignable<mote::Tensor>::value, "Tensor is not copyable");
static_assert(std::is_nothrow_move_constructible<mote::Tensor>::value, "Tensor moves");
static_assert(std::is_nothrow_move_assignable<mote::Tensor>::value, "Tensor moves");
static_assert(!std::is_copy_constructible<mote::Model>::value, "Model is not copyable");
static_assert(std::is_nothrow_move_constructible<mote::Model>::value, "Model moves");
static_assert(!std::is_copy_constructible<mote::Session>::value, "Session is not copyable");
static_assert(std::is_nothrow_move_constructible<mote::Session>::value, "Session moves");
static_assert(mote::dtype_of<float>() == MOTE_DTYPE_F32, "float is f32");
static_assert(mote::dtype_of<int64_t>() == MOTE_DTYPE_I64, "int64_t is i64");

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            std::fprintf(stderr, "FAIL: %s (line %d)\n", #cond, __LINE__);          \
            std::exit(1);                                                           \
        }                                                                           \
    } while (0)

static std::vector<char> read_file(const char* path) {
    std::ifstream f(path, std::ios::binary);
    CHECK(f.good());
    return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Runs `f`, which must throw mote::Error with `status` and a non-empty message containing
// `needle`.
template <class F> static void expect_error(MoteStatus status, const char* needle, F f) {
    try {
        f();
    } catch (const mote::Error& e) {
        std::fprintf(stderr, "expected error: %s: %s\n", e.status_name(), e.what());
        CHECK(e.status() == status);
        CHECK(std::strlen(e.what()) > 0);
        CHECK(std::strstr(e.what(), needle) != nullptr);
        return;
    }
    std::fprintf(stderr, "FAIL: no mote::Error for status %d (%s)\n", status, needle);
    std::exit(1);
}

static void check_description(const mote::Model& model) {
    CHECK(model.input_count() == 1 && model.output_count() == 1);
    mote::TensorInfo in = model.input(0);
    CHECK(in.name == "pixels");
    CHECK(in.dtype == MOTE_DTYPE_F32);
    CHECK(in.rank_known);
    CHECK((in.shape == std::vector<int64_t>{-1, 64}));
    CHECK(in.dim_names.size() == 2 && !in.dim_names[0].empty() && in.dim_names[1].empty());
    std::vector<mote::TensorInfo> outs = model.outputs();
    CHECK(outs.size() == 1 && outs[0].name == "probabilities");
    CHECK(model.input_index("pixels") == 0 && model.output_index("probabilities") == 0);
    expect_error(MOTE_STATUS_INVALID_ARGUMENT, "pixel", [&] { model.input_index("pixel"); });
    expect_error(MOTE_STATUS_INVALID_ARGUMENT, "", [&] { model.input(1); });
}

static void check_errors(const mote::Model& model, const mote::Session& session, int64_t n) {
    expect_error(MOTE_STATUS_IO, "no-such-model.onnx",
                 [] { mote::Model("no-such-model.onnx"); });
    const char junk[] = "not a model";
    expect_error(MOTE_STATUS_INVALID_MODEL, "ONNX",
                 [&] { mote::Model::from_memory(junk, sizeof junk); });
    mote::SessionOptions zero;
    zero.threads = 0;
    expect_error(MOTE_STATUS_INVALID_ARGUMENT, "threads", [&] { mote::Session(model, zero); });
    mote::SessionOptions wgpu;
    wgpu.backend = "wgpu";
    expect_error(MOTE_STATUS_BACKEND_UNAVAILABLE, "wgpu", [&] { mote::Session(model, wgpu); });

    // Wrong element type, wrong shape, wrong count, wrong byte count, wrong typed access.
    mote::Tensor f64 = mote::Tensor::zeros(MOTE_DTYPE_F64, {n, 64});
    expect_error(MOTE_STATUS_DTYPE_MISMATCH, "f64", [&] { session.run({&f64}); });
    mote::Tensor narrow = mote::Tensor::zeros(MOTE_DTYPE_F32, {n, 10});
    expect_error(MOTE_STATUS_SHAPE_MISMATCH, "64", [&] { session.run({&narrow}); });
    expect_error(MOTE_STATUS_INVALID_ARGUMENT, "", [&] { session.run(std::vector<mote::Tensor>{}); });
    std::vector<float> three(3);
    expect_error(MOTE_STATUS_SHAPE_MISMATCH, "",
                 [&] { mote::Tensor::from<float>({2, 2}, three); });
    expect_error(MOTE_STATUS_DTYPE_MISMATCH, "f32", [&] { narrow.data<int32_t>(); });
    // An empty (moved-from) tensor is a NULL handle: a status, not a crash.
    mote::Tensor gone = std::move(narrow);
    CHECK(!narrow && gone);
    expect_error(MOTE_STATUS_NULL_POINTER, "", [&] { narrow.shape(); });
    expect_error(MOTE_STATUS_NULL_POINTER, "", [&] { session.run({&narrow}); });
}

static void check_run_into(const mote::Session& session, const mote::Tensor& x, int64_t n,
                           const std::vector<float>& expected) {
    std::vector<float> out(static_cast<size_t>(n) * 10, -1.0f);
    session.run_into({&x}, {mote::OutputView::of(out.data(), {n, 10})});
    CHECK(out == expected);
    // Reused for a second run: overwritten with the same values.
    session.run_into({&x}, {mote::OutputView::of(out.data(), {n, 10})});
    CHECK(out == expected);

    // A view with one row too few: refused, nothing written, the shapes named.
    std::vector<float> short_rows(static_cast<size_t>(n - 1) * 10, -1.0f);
    expect_error(MOTE_STATUS_SHAPE_MISMATCH, "nothing was written", [&] {
        session.run_into({&x}, {mote::OutputView::of(short_rows.data(), {n - 1, 10})});
    });
    for (float v : short_rows) CHECK(v == -1.0f);
    // Enough bytes, another shape: refused, naming the real one.
    std::vector<float> same_bytes(static_cast<size_t>(n) * 10);
    const std::string real = "[" + std::to_string(n) + ", 10]";
    expect_error(MOTE_STATUS_SHAPE_MISMATCH, real.c_str(), [&] {
        session.run_into({&x}, {mote::OutputView::of(same_bytes.data(), {n * 10})});
    });
    expect_error(MOTE_STATUS_SHAPE_MISMATCH, real.c_str(), [&] {
        session.run_into({&x}, {mote::OutputView::of(same_bytes.data(), {n * 2, 5})});
    });
    // Another element type than the model declares: refused before running.
    std::vector<double> f64(static_cast<size_t>(n) * 10);
    expect_error(MOTE_STATUS_DTYPE_MISMATCH, "f64",
                 [&] { session.run_into({&x}, {mote::OutputView::of(f64.data(), {n, 10})}); });
    expect_error(MOTE_STATUS_INVALID_ARGUMENT, "1 outputs", [&] { session.run_into({&x}, {}); });
    expect_error(MOTE_STATUS_INVALID_ARGUMENT, "negative", [&] {
        session.run_into({&x}, {mote::OutputView::of(out.data(), {-1, 10})});
    });
    mote::OutputView null_data = mote::OutputView::of<float>(nullptr, {n, 10});
    expect_error(MOTE_STATUS_NULL_POINTER, "data", [&] { session.run_into({&x}, {null_data}); });
    CHECK(out == expected);
}

// The session's memory limit: the needed size is read from the refusal's message, then a
// limit one byte short fails, the exact size and 0 (unlimited) run.
static void check_memory_limit(const mote::Model& model, const mote::Tensor& x,
                               const std::vector<float>& expected) {
    mote::SessionOptions tiny;
    tiny.memory_limit_bytes = 1;
    unsigned long long needed = 0;
    try {
        mote::Session(model, tiny).run({&x});
        std::fprintf(stderr, "FAIL: a 1-byte memory limit ran\n");
        std::exit(1);
    } catch (const mote::Error& e) {
        CHECK(e.status() == MOTE_STATUS_MEMORY_LIMIT_EXCEEDED);
        CHECK(std::string(e.status_name()) == "memory limit exceeded");
        const char* at = std::strstr(e.what(), "needs ");
        CHECK(at != nullptr);
        needed = std::strtoull(at + 6, nullptr, 10);
    }
    CHECK(needed > 1);
    mote::SessionOptions short_by_one;
    short_by_one.memory_limit_bytes = needed - 1;
    mote::Session tight(model, short_by_one);
    expect_error(MOTE_STATUS_MEMORY_LIMIT_EXCEEDED, "memory limit", [&] { tight.run({&x}); });
    for (uint64_t limit : {static_cast<uint64_t>(needed), static_cast<uint64_t>(0)}) {
        mote::SessionOptions options;
        options.memory_limit_bytes = limit;
        mote::Session session(model, options);
        CHECK(session.run({&x})[0].to_vector<float>() == expected);
    }
}

static void check_moves(mote::Model model, const std::vector<float>& pixels, int64_t n,
                        const std::vector<float>& expected) {
    // A session outlives the model it came from, and survives being moved twice.
    mote::Session first(model);
    mote::Session session(std::move(first));
    CHECK(!first && session);
    { mote::Model dropped = std::move(model); }
    CHECK(!model);
    mote::Session moved_again = std::move(session);

    mote::Tensor x = mote::Tensor::zeros(MOTE_DTYPE_F32, {n, 64});
    float* dst = x.mutable_data<float>();  // filled in place
    std::memcpy(dst, pixels.data(), pixels.size() * sizeof(float));
    std::vector<mote::Tensor> inputs;
    inputs.push_back(std::move(x));
    CHECK(!x);
    for (int i = 0; i < 3; ++i) inputs.emplace_back();  // reallocation moves the tensor
    inputs.resize(1);
    std::vector<mote::Tensor> out = moved_again.run(inputs);
    CHECK(out.size() == 1 && out[0].to_vector<float>() == expected);
    mote::Tensor kept;
    kept = std::move(out[0]);
    CHECK(kept && !out[0]);
    CHECK(kept.to_vector<float>() == expected);
    MoteTensor* raw = kept.release();  // ownership back to C
    CHECK(!kept && raw != nullptr);
    mote_tensor_free(raw);
}

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s MODEL.onnx PIXELS.f32 N OUT.f32\n", argv[0]);
        return 2;
    }
    CHECK(MOTE_ABI_MATCHES());
    CHECK(mote::version() == mote_version() && !mote::version().empty());
    const int64_t n = std::atoll(argv[3]);
    std::vector<char> bytes = read_file(argv[2]);
    CHECK(bytes.size() == static_cast<size_t>(n) * 64 * sizeof(float));
    std::vector<float> pixels(static_cast<size_t>(n) * 64);
    std::memcpy(pixels.data(), bytes.data(), bytes.size());

    mote::Model model(argv[1]);
    check_description(model);

    mote::SessionOptions options;
    options.threads = 2;
    mote::Session session(model, options);
    mote::Tensor x = mote::Tensor::from<float>({n, 64}, pixels);
    CHECK(x.dtype() == MOTE_DTYPE_F32 && (x.shape() == std::vector<int64_t>{n, 64}));
    CHECK(x.size() == pixels.size() && x.byte_size() == bytes.size());
    std::vector<mote::Tensor> out = session.run({&x});
    CHECK(out.size() == 1);
    CHECK((out[0].shape() == std::vector<int64_t>{n, 10}));
    std::vector<float> probs = out[0].to_vector<float>();

    // The same model loaded from memory, on one thread, gives the same values.
    std::vector<char> model_bytes = read_file(argv[1]);
    mote::Model from_memory = mote::Model::from_memory(model_bytes.data(), model_bytes.size());
    model_bytes.clear();  // the bytes were read during the call only
    mote::Session one_thread(from_memory);
    CHECK(one_thread.run({&x})[0].to_vector<float>() == probs);

    check_errors(model, session, n);
    check_run_into(session, x, n, probs);
    check_memory_limit(model, x, probs);
    check_moves(std::move(model), pixels, n, probs);
    CHECK(!model);

    std::FILE* f = std::fopen(argv[4], "wb");
    CHECK(f != nullptr);
    CHECK(std::fwrite(probs.data(), sizeof(float), probs.size(), f) == probs.size());
    CHECK(std::fclose(f) == 0);
    std::printf("ok\n");
    return 0;
}
