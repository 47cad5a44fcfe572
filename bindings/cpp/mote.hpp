// mote.hpp: a header-only C++17 wrapper over libmote's C API (include/mote.h).
//
// Handles live in std::unique_ptr with deleters that call the C _free functions, so every
// object frees what it owns exactly once and is movable but not copyable. A failing call
// throws mote::Error with the C status and mote_last_error()'s message.
//
//   mote::Model model("assets/models/digits_mlp.onnx");
//   mote::Session session(model, {/*threads=*/2});
//   auto x = mote::Tensor::from<float>({n, 64}, pixels);         // copies the values
//   std::vector<mote::Tensor> out = session.run({&x});
//   const float* probs = out[0].data<float>();                     // type-checked
//   std::vector<float> probs(n * 10);                              // or into your memory:
//   session.run_into({&x}, {mote::OutputView::of(probs.data(), {n, 10})});
//
// Link with -lmote (see mote.pc). Thread safety is the C API's: a Model may be shared by
// threads; a Session runs one call at a time (a concurrent call throws with status
// MOTE_STATUS_SESSION_BUSY); use one Session per thread.
#ifndef MOTE_HPP
#define MOTE_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mote.h"

// This wrapper is written against ABI 1: it fails to compile against another mote.h.
MOTE_REQUIRE_ABI(1);

namespace mote {

// A failed libmote call (or a misuse this wrapper detects, e.g. typed access with the wrong
// element type): the C status and its message.
class Error : public std::runtime_error {
public:
    Error(MoteStatus status, const std::string& message)
        : std::runtime_error(message), status_(status) {}

    MoteStatus status() const noexcept { return status_; }
    // The library's name for the status ("shape mismatch"...).
    const char* status_name() const noexcept { return mote_status_str(status_); }

private:
    MoteStatus status_;
};

namespace detail {

inline void check(MoteStatus status) {
    if (status != MOTE_STATUS_OK) throw Error(status, mote_last_error());
}

// "[2, 3]" for an error message.
inline std::string shape_text(const int64_t* dims, size_t rank) {
    std::string text = "[";
    for (size_t d = 0; d < rank; ++d) text += (d ? ", " : "") + std::to_string(dims[d]);
    return text + "]";
}

struct ModelDeleter {
    void operator()(MoteModel* p) const noexcept { mote_model_free(p); }
};
struct SessionDeleter {
    void operator()(MoteSession* p) const noexcept { mote_session_free(p); }
};
struct TensorDeleter {
    void operator()(MoteTensor* p) const noexcept { mote_tensor_free(p); }
};

// The MoteDtype of a C++ element type; only types whose bytes are the C API's layout.
template <class T> struct DtypeOf;
template <> struct DtypeOf<float> { static constexpr MoteDtype value = MOTE_DTYPE_F32; };
template <> struct DtypeOf<double> { static constexpr MoteDtype value = MOTE_DTYPE_F64; };
template <> struct DtypeOf<int8_t> { static constexpr MoteDtype value = MOTE_DTYPE_I8; };
template <> struct DtypeOf<uint8_t> { static constexpr MoteDtype value = MOTE_DTYPE_U8; };
template <> struct DtypeOf<int16_t> { static constexpr MoteDtype value = MOTE_DTYPE_I16; };
template <> struct DtypeOf<uint16_t> { static constexpr MoteDtype value = MOTE_DTYPE_U16; };
template <> struct DtypeOf<int32_t> { static constexpr MoteDtype value = MOTE_DTYPE_I32; };
template <> struct DtypeOf<uint32_t> { static constexpr MoteDtype value = MOTE_DTYPE_U32; };
template <> struct DtypeOf<int64_t> { static constexpr MoteDtype value = MOTE_DTYPE_I64; };
template <> struct DtypeOf<uint64_t> { static constexpr MoteDtype value = MOTE_DTYPE_U64; };
// mote.h stores bool as one byte, 0 or 1.
static_assert(sizeof(bool) == 1, "mote::Tensor maps bool to MOTE_DTYPE_BOOL (one byte)");
template <> struct DtypeOf<bool> { static constexpr MoteDtype value = MOTE_DTYPE_BOOL; };

}  // namespace detail

// The MoteDtype of T (float -> MOTE_DTYPE_F32...). Half, bfloat16 and the 8/4/2-bit types
// have no C++ type here: use Tensor::from_bytes / raw_data with their MoteDtype.
template <class T> constexpr MoteDtype dtype_of() { return detail::DtypeOf<T>::value; }

// Mote's name for an element type ("f32"...).
inline std::string dtype_name(int32_t dtype) { return mote_dtype_name(dtype); }

// The library's version, "MAJOR.MINOR.PATCH".
inline std::string version() { return mote_version(); }

// A tensor: element type, shape and bytes, owned by the library. Empty after a move.
class Tensor {
public:
    Tensor() noexcept = default;
    // Takes ownership of a handle from the C API (may be NULL: an empty Tensor).
    explicit Tensor(MoteTensor* handle) noexcept : handle_(handle) {}

    // A zero-filled tensor, to fill through mutable_data() without a second copy.
    static Tensor zeros(MoteDtype dtype, const std::vector<int64_t>& shape) {
        return from_bytes(dtype, shape, nullptr, 0);
    }
    // A tensor with a copy of `byte_len` bytes (exactly the tensor's size, else Error).
    static Tensor from_bytes(MoteDtype dtype, const std::vector<int64_t>& shape,
                             const void* data, size_t byte_len) {
        MoteTensor* out = nullptr;
        detail::check(mote_tensor_new(dtype, shape.data(), shape.size(), data, byte_len, &out));
        return Tensor(out);
    }
    // A tensor of T with a copy of `count` values (the shape's element count, else Error).
    template <class T>
    static Tensor from(const std::vector<int64_t>& shape, const T* values, size_t count) {
        return from_bytes(dtype_of<T>(), shape, values, count * sizeof(T));
    }
    template <class T>
    static Tensor from(const std::vector<int64_t>& shape, const std::vector<T>& values) {
        return from<T>(shape, values.data(), values.size());
    }

    explicit operator bool() const noexcept { return handle_ != nullptr; }

    MoteDtype dtype() const {
        int32_t dtype = 0;
        detail::check(mote_tensor_dtype(handle_.get(), &dtype));
        return static_cast<MoteDtype>(dtype);
    }
    std::vector<int64_t> shape() const {
        const int64_t* dims = nullptr;
        size_t rank = 0;
        detail::check(mote_tensor_shape(handle_.get(), &dims, &rank));
        return std::vector<int64_t>(dims, dims + rank);
    }
    // Number of elements (the product of the shape; 1 for a scalar).
    size_t size() const {
        size_t n = 1;
        for (int64_t d : shape()) n *= static_cast<size_t>(d);
        return n;
    }
    size_t byte_size() const {
        size_t len = 0;
        raw_data_and_size(&len);
        return len;
    }
    // The bytes, any element type (valid while the tensor lives and is not written).
    const void* raw_data() const {
        size_t len = 0;
        return raw_data_and_size(&len);
    }
    // The values as T, which must be the tensor's element type (else Error with
    // MOTE_STATUS_DTYPE_MISMATCH).
    template <class T> const T* data() const {
        check_dtype<T>();
        return static_cast<const T*>(raw_data());
    }
    template <class T> T* mutable_data() {
        check_dtype<T>();
        void* data = nullptr;
        size_t len = 0;
        detail::check(mote_tensor_data_mut(handle_.get(), &data, &len));
        return static_cast<T*>(data);
    }
    // A copy of the values as T (type-checked as data<T>()).
    template <class T> std::vector<T> to_vector() const {
        const T* values = data<T>();
        return std::vector<T>(values, values + size());
    }

    const MoteTensor* get() const noexcept { return handle_.get(); }
    MoteTensor* get() noexcept { return handle_.get(); }
    // Gives up ownership: the caller frees the handle with mote_tensor_free.
    MoteTensor* release() noexcept { return handle_.release(); }

private:
    const void* raw_data_and_size(size_t* len) const {
        const void* data = nullptr;
        detail::check(mote_tensor_data(handle_.get(), &data, len));
        return data;
    }
    template <class T> void check_dtype() const {
        MoteDtype actual = dtype();
        if (actual != dtype_of<T>()) {
            throw Error(MOTE_STATUS_DTYPE_MISMATCH,
                        "the tensor holds " + dtype_name(actual) + ", not " +
                            dtype_name(dtype_of<T>()));
        }
    }

    std::unique_ptr<MoteTensor, detail::TensorDeleter> handle_;
};

// A model input or output as the model declares it.
struct TensorInfo {
    std::string name;
    MoteDtype dtype = MOTE_DTYPE_UNKNOWN;  // MOTE_DTYPE_UNKNOWN if undeclared
    bool rank_known = false;               // false: `shape` and `dim_names` are empty
    std::vector<int64_t> shape;            // -1 for a dimension known only at run time
    std::vector<std::string> dim_names;    // its symbol ("N", "?"), "" for a fixed one
};

struct SessionOptions {
    uint32_t threads = 1;         // worker threads, 1..1024 (1 = the calling thread only)
    std::string backend;          // "" or "cpu"
    // The most bytes the session holds for its plans (each plan's arena of intermediates and
    // folded constants; see MoteSessionOptions), 0 = unlimited. A run whose plan exceeds it
    // throws mote::Error with MOTE_STATUS_MEMORY_LIMIT_EXCEEDED, allocating nothing for it.
    uint64_t memory_limit_bytes = 0;
};

// Caller-owned memory that Session::run_into writes one output to. `dtype` and `shape` are
// what the caller expects; the run must produce exactly them (else mote::Error).
struct OutputView {
    MoteDtype dtype = MOTE_DTYPE_UNKNOWN;
    std::vector<int64_t> shape;
    void* data = nullptr;  // at least byte_size() writable bytes

    // A view of `data` as values of T in `shape`.
    template <class T> static OutputView of(T* data, std::vector<int64_t> shape) {
        OutputView view;
        view.dtype = dtype_of<T>();
        view.shape = std::move(shape);
        view.data = data;
        return view;
    }

    // Bytes of `shape` elements of `dtype` (Error for a negative dimension, an unknown
    // dtype or a size that overflows).
    size_t byte_size() const {
        size_t bytes = mote_dtype_size(dtype);
        if (bytes == 0) {
            throw Error(MOTE_STATUS_INVALID_ARGUMENT,
                        "OutputView has no element size for dtype " + dtype_name(dtype));
        }
        for (int64_t d : shape) {
            if (d < 0) throw Error(MOTE_STATUS_INVALID_ARGUMENT, "OutputView has a negative dim");
            size_t n = static_cast<size_t>(d);
            if (n != 0 && bytes > std::numeric_limits<size_t>::max() / n) {
                throw Error(MOTE_STATUS_INVALID_ARGUMENT, "OutputView's byte size overflows");
            }
            bytes *= n;
        }
        return bytes;
    }
};

class Session;

// A loaded model (immutable; may be shared by threads). Sessions made from it stay usable
// after it is destroyed. Empty after a move.
class Model {
public:
    // Loads the model file at `path`.
    explicit Model(const std::string& path) {
        MoteModel* out = nullptr;
        detail::check(mote_model_load_file(path.c_str(), &out));
        handle_.reset(out);
    }
    // Loads a model from `len` bytes at `data` (read during the call only).
    static Model from_memory(const void* data, size_t len) {
        MoteModel* out = nullptr;
        detail::check(mote_model_load_memory(data, len, &out));
        return Model(out);
    }

    explicit operator bool() const noexcept { return handle_ != nullptr; }

    size_t input_count() const {
        size_t n = 0;
        detail::check(mote_model_input_count(handle_.get(), &n));
        return n;
    }
    size_t output_count() const {
        size_t n = 0;
        detail::check(mote_model_output_count(handle_.get(), &n));
        return n;
    }
    TensorInfo input(size_t index) const { return describe(index, mote_model_input_info); }
    TensorInfo output(size_t index) const { return describe(index, mote_model_output_info); }
    std::vector<TensorInfo> inputs() const {
        std::vector<TensorInfo> all;
        for (size_t i = 0, n = input_count(); i < n; ++i) all.push_back(input(i));
        return all;
    }
    std::vector<TensorInfo> outputs() const {
        std::vector<TensorInfo> all;
        for (size_t i = 0, n = output_count(); i < n; ++i) all.push_back(output(i));
        return all;
    }
    // Position of the input / output called `name` (Error if none).
    size_t input_index(const std::string& name) const {
        size_t index = 0;
        detail::check(mote_model_input_index(handle_.get(), name.c_str(), &index));
        return index;
    }
    size_t output_index(const std::string& name) const {
        size_t index = 0;
        detail::check(mote_model_output_index(handle_.get(), name.c_str(), &index));
        return index;
    }

    const MoteModel* get() const noexcept { return handle_.get(); }

private:
    explicit Model(MoteModel* handle) noexcept : handle_(handle) {}

    using InfoFn = MoteStatus (*)(const MoteModel*, size_t, MoteTensorInfo*);
    TensorInfo describe(size_t index, InfoFn fn) const {
        MoteTensorInfo raw{};
        raw.struct_size = sizeof raw;
        detail::check(fn(handle_.get(), index, &raw));
        TensorInfo info;
        info.name = raw.name;
        info.dtype = static_cast<MoteDtype>(raw.dtype);
        info.rank_known = raw.rank >= 0;
        for (int64_t d = 0; d < raw.rank; ++d) {
            info.shape.push_back(raw.shape[d]);
            info.dim_names.push_back(raw.dim_names[d] ? raw.dim_names[d] : "");
        }
        return info;
    }

    std::unique_ptr<MoteModel, detail::ModelDeleter> handle_;
};

// Runs one model with fixed options, one call at a time. Empty after a move.
class Session {
public:
    explicit Session(const Model& model, const SessionOptions& options = SessionOptions()) {
        MoteSessionOptions raw;
        detail::check(MOTE_SESSION_OPTIONS_INIT(&raw));
        raw.threads = options.threads;
        raw.backend = options.backend.empty() ? nullptr : options.backend.c_str();
        raw.memory_limit_bytes = options.memory_limit_bytes;
        n_outputs_ = model.output_count();
        for (size_t i = 0; i < n_outputs_; ++i) output_dtypes_.push_back(model.output(i).dtype);
        MoteSession* out = nullptr;
        detail::check(mote_session_new(model.get(), &raw, &out));
        handle_.reset(out);
    }

    explicit operator bool() const noexcept { return handle_ != nullptr; }

    // Runs on `inputs` (one per model input, in the model's order; see
    // Model::input_index) and returns one new tensor per model output, in order.
    std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) const {
        std::vector<const MoteTensor*> raw_inputs;
        raw_inputs.reserve(inputs.size());
        for (const Tensor* t : inputs) raw_inputs.push_back(t ? t->get() : nullptr);
        std::vector<MoteTensor*> raw_outputs(n_outputs_, nullptr);
        // Allocated before the run, so that adopting the new handles below cannot throw
        // (and leak them).
        std::vector<Tensor> outputs(n_outputs_);
        detail::check(mote_session_run(handle_.get(), raw_inputs.data(), raw_inputs.size(),
                                       raw_outputs.data(), raw_outputs.size()));
        for (size_t i = 0; i < n_outputs_; ++i) outputs[i] = Tensor(raw_outputs[i]);
        return outputs;
    }
    std::vector<Tensor> run(const std::vector<Tensor>& inputs) const {
        std::vector<const Tensor*> pointers;
        pointers.reserve(inputs.size());
        for (const Tensor& t : inputs) pointers.push_back(&t);
        return run(pointers);
    }

    // Runs on `inputs` (as run) and writes output i into outputs[i] (one per model output,
    // in order), which must describe the output's exact element type and shape for these
    // inputs. A view of another dtype than the model declares throws before running
    // (MOTE_STATUS_DTYPE_MISMATCH); a run whose output differs from its view throws
    // MOTE_STATUS_SHAPE_MISMATCH (or DTYPE_MISMATCH) naming every misfit, after writing
    // nothing if a view was too small, else with the views' contents unspecified.
    void run_into(const std::vector<const Tensor*>& inputs,
                  const std::vector<OutputView>& outputs) const {
        if (outputs.size() != n_outputs_) {
            throw Error(MOTE_STATUS_INVALID_ARGUMENT,
                        std::to_string(outputs.size()) + " output views given, the model has " +
                            std::to_string(n_outputs_) + " outputs");
        }
        std::vector<MoteOutputBuffer> raw(outputs.size());
        std::vector<std::vector<int64_t>> shapes(outputs.size());
        for (size_t i = 0; i < outputs.size(); ++i) {
            const OutputView& view = outputs[i];
            if (output_dtypes_[i] != MOTE_DTYPE_UNKNOWN && view.dtype != output_dtypes_[i]) {
                throw Error(MOTE_STATUS_DTYPE_MISMATCH,
                            "output " + std::to_string(i) + " is " +
                                dtype_name(output_dtypes_[i]) + ", its view is " +
                                dtype_name(view.dtype));
            }
            shapes[i].assign(view.shape.size() + 1, 0);  // one more: a rank that differs by 1
            raw[i] = MoteOutputBuffer{};
            raw[i].struct_size = sizeof(MoteOutputBuffer);
            raw[i].data = view.data;
            raw[i].capacity = view.byte_size();
            raw[i].shape = shapes[i].data();
            raw[i].shape_capacity = shapes[i].size();
        }
        std::vector<const MoteTensor*> raw_inputs;
        raw_inputs.reserve(inputs.size());
        for (const Tensor* t : inputs) raw_inputs.push_back(t ? t->get() : nullptr);
        MoteStatus status = mote_session_run_into(handle_.get(), raw_inputs.data(),
                                                  raw_inputs.size(), raw.data(), raw.size());
        if (status != MOTE_STATUS_OK && status != MOTE_STATUS_BUFFER_TOO_SMALL) {
            detail::check(status);
        }
        // Too small means some view has fewer bytes than its output: say which, by shape.
        std::string misfits;
        bool dtype_differs = false;
        for (size_t i = 0; i < outputs.size(); ++i) {
            const OutputView& view = outputs[i];
            bool same_rank = raw[i].rank == view.shape.size();
            bool same_shape = same_rank && std::equal(view.shape.begin(), view.shape.end(),
                                                      shapes[i].begin());
            bool same_dtype = raw[i].dtype == view.dtype;
            if (same_shape && same_dtype) continue;
            dtype_differs = dtype_differs || !same_dtype;
            if (!misfits.empty()) misfits += "; ";
            misfits += "output " + std::to_string(i) + " is " + dtype_name(raw[i].dtype) + " " +
                       (raw[i].rank <= shapes[i].size()
                            ? detail::shape_text(shapes[i].data(), raw[i].rank)
                            : "of rank " + std::to_string(raw[i].rank)) +
                       ", its view is " + dtype_name(view.dtype) + " " +
                       detail::shape_text(view.shape.data(), view.shape.size());
        }
        if (!misfits.empty()) {
            misfits += status == MOTE_STATUS_OK ? " (the views' contents are unspecified)"
                                                : " (nothing was written)";
            throw Error(dtype_differs ? MOTE_STATUS_DTYPE_MISMATCH : MOTE_STATUS_SHAPE_MISMATCH,
                        misfits);
        }
        detail::check(status);
    }
    void run_into(const std::vector<Tensor>& inputs,
                  const std::vector<OutputView>& outputs) const {
        std::vector<const Tensor*> pointers;
        pointers.reserve(inputs.size());
        for (const Tensor& t : inputs) pointers.push_back(&t);
        run_into(pointers, outputs);
    }

    const MoteSession* get() const noexcept { return handle_.get(); }

private:
    size_t n_outputs_ = 0;
    std::vector<MoteDtype> output_dtypes_;  // as the model declares them (UNKNOWN: any)
    std::unique_ptr<MoteSession, detail::SessionDeleter> handle_;
};

}  // namespace mote

#endif  // MOTE_HPP
