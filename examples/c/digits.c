/*
 * digits: classify 8x8 handwritten digits with libmote's C API.
 *
 *   digits MODEL.onnx PIXELS.npy
 *
 * MODEL is the repo's demo classifier (assets/models/digits_mlp.onnx: input "pixels"
 * float32 [N, 64], output "probabilities" float32 [N, 10]); PIXELS a float32 .npy of shape
 * [N, 64] (assets/models/digits_test_x.npy). Prints one line per image, "INDEX DIGIT", the
 * argmax of its probabilities. The model description goes to stderr.
 *
 * It runs the images twice, once with outputs the library allocates and once into a buffer
 * of its own (sized from the library's BUFFER_TOO_SMALL answer), and checks that both agree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mote.h"

/* Fails to compile against a mote.h of another ABI version. */
MOTE_REQUIRE_ABI(1);

#define CHECK(call)                                                                    \
    do {                                                                               \
        MoteStatus status_ = (call);                                                   \
        if (status_ != MOTE_STATUS_OK) {                                               \
            fprintf(stderr, "digits: %s: %s: %s\n", #call, mote_status_str(status_),  \
                    mote_last_error());                                                \
            goto done;                                                                 \
        }                                                                              \
    } while (0)

/* Reads a little-endian float32 .npy file of shape [rows, cols] (C order). */
static float *read_npy_f32(const char *path, size_t *rows, size_t *cols) {
    FILE *f = fopen(path, "rb");
    unsigned char magic[10];
    char *header = NULL;
    float *values = NULL;
    size_t header_len, count;
    const char *shape;
    long r, c;
    if (!f) {
        perror(path);
        return NULL;
    }
    if (fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6) != 0) goto bad;
    if (magic[6] == 1) {
        header_len = (size_t)magic[8] | ((size_t)magic[9] << 8);
    } else {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) goto bad;
        header_len = (size_t)magic[8] | ((size_t)magic[9] << 8) | ((size_t)more[0] << 16) |
                     ((size_t)more[1] << 24);
    }
    header = (char *)calloc(header_len + 1, 1);
    if (!header || fread(header, 1, header_len, f) != header_len) goto bad;
    shape = strstr(header, "'shape': (");
    if (!strstr(header, "'descr': '<f4'") || !strstr(header, "'fortran_order': False") ||
        !shape || sscanf(shape, "'shape': (%ld, %ld)", &r, &c) != 2 || r < 0 || c < 0)
        goto bad;
    *rows = (size_t)r;
    *cols = (size_t)c;
    count = *rows * *cols;
    values = (float *)malloc(count ? count * sizeof(float) : 1);
    if (!values || fread(values, sizeof(float), count, f) != count) goto bad;
    free(header);
    fclose(f);
    return values;
bad:
    fprintf(stderr, "digits: %s is not a float32 [rows, cols] .npy file\n", path);
    free(values);
    free(header);
    fclose(f);
    return NULL;
}

static void describe_input(const MoteModel *model) {
    MoteTensorInfo info;
    int64_t d;
    info.struct_size = sizeof info;
    if (mote_model_input_info(model, 0, &info) != MOTE_STATUS_OK) return;
    fprintf(stderr, "input %s: %s [", info.name, mote_dtype_name(info.dtype));
    for (d = 0; d < info.rank; d++) {
        if (info.shape[d] < 0) /* known only at run time: print its symbol */
            fprintf(stderr, "%s%s", d ? ", " : "", info.dim_names[d]);
        else
            fprintf(stderr, "%s%lld", d ? ", " : "", (long long)info.shape[d]);
    }
    fprintf(stderr, "]\n");
}

static int argmax(const float *row, size_t n) {
    size_t i, best = 0;
    for (i = 1; i < n; i++)
        if (row[i] > row[best]) best = i;
    return (int)best;
}

int main(int argc, char **argv) {
    MoteModel *model = NULL;
    MoteSession *session = NULL;
    MoteTensor *input = NULL;
    MoteTensor *output = NULL;
    MoteSessionOptions options;
    MoteOutputBuffer buffer;
    int64_t shape[2], out_shape[2];
    const MoteTensor *inputs[1];
    const int64_t *dims;
    const void *probs;
    float *pixels = NULL, *own = NULL;
    void *dst;
    size_t rows, cols, n_out, rank, len, i;
    int exit_code = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.onnx PIXELS.npy\n", argv[0]);
        return 2;
    }
    if (!MOTE_ABI_MATCHES()) {
        fprintf(stderr, "digits: libmote %s implements ABI %u, this program was built for %d\n",
                mote_version(), mote_abi_version(), MOTE_ABI_VERSION);
        return 1;
    }
    pixels = read_npy_f32(argv[2], &rows, &cols);
    if (!pixels) return 1;

    CHECK(mote_model_load_file(argv[1], &model));
    fprintf(stderr, "libmote %s, model %s\n", mote_version(), argv[1]);
    describe_input(model);
    CHECK(mote_model_output_count(model, &n_out));
    if (n_out != 1) {
        fprintf(stderr, "digits: expected one output, the model has %zu\n", n_out);
        goto done;
    }

    CHECK(MOTE_SESSION_OPTIONS_INIT(&options));
    options.threads = 2;
    CHECK(mote_session_new(model, &options, &session));

    /* A zero-filled input, filled in place (no second copy of the pixels). */
    shape[0] = (int64_t)rows;
    shape[1] = (int64_t)cols;
    CHECK(mote_tensor_new(MOTE_DTYPE_F32, shape, 2, NULL, 0, &input));
    CHECK(mote_tensor_data_mut(input, &dst, &len));
    memcpy(dst, pixels, len);
    inputs[0] = input;

    /* 1. Outputs the library allocates. */
    CHECK(mote_session_run(session, inputs, 1, &output, 1));
    CHECK(mote_tensor_shape(output, &dims, &rank));
    CHECK(mote_tensor_data(output, &probs, &len));
    if (rank != 2 || dims[0] != (int64_t)rows || len != rows * (size_t)dims[1] * sizeof(float)) {
        fprintf(stderr, "digits: unexpected output shape\n");
        goto done;
    }

    /* 2. Into a buffer of our own: ask with no room, learn the size, allocate, run again. */
    memset(&buffer, 0, sizeof buffer);
    buffer.struct_size = sizeof buffer;
    buffer.shape = out_shape;
    buffer.shape_capacity = 2;
    if (mote_session_run_into(session, inputs, 1, &buffer, 1) != MOTE_STATUS_BUFFER_TOO_SMALL) {
        fprintf(stderr, "digits: an empty buffer should be too small\n");
        goto done;
    }
    own = (float *)malloc(buffer.size ? buffer.size : 1);
    if (!own) goto done;
    buffer.data = own;
    buffer.capacity = buffer.size;
    CHECK(mote_session_run_into(session, inputs, 1, &buffer, 1));

    for (i = 0; i < rows; i++) {
        const float *row = (const float *)probs + i * (size_t)dims[1];
        int digit = argmax(row, (size_t)dims[1]);
        if (digit != argmax(own + i * (size_t)out_shape[1], (size_t)out_shape[1])) {
            fprintf(stderr, "digits: the two runs disagree on image %zu\n", i);
            goto done;
        }
        printf("%zu %d\n", i, digit);
    }
    exit_code = 0;

done:
    free(own);
    mote_tensor_free(output);
    mote_tensor_free(input);
    mote_session_free(session);
    mote_model_free(model);
    free(pixels);
    return exit_code;
}
