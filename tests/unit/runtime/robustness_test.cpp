//===- robustness_test.cpp - Every bad input of docs/robustness.md --------===//
//
// The catalogue behind docs/robustness.md: each bad data file, CSV file and
// checkpoint the document lists, with the exact message the runtime gives
// ("{dir}" stands for the directory the files are in). A failed load must
// leave nothing allocated and, for a checkpoint, the model as it was. Then
// the limits: the size caps of each reader, and inputs whose headers
// announce far more than the file holds, which must fail as malformed
// before any large allocation.
//
// SORA_ROBUSTNESS_TABLE=FILE appends each case to FILE as a Markdown table
// row (how the document's tables were written).
//
//===----------------------------------------------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// The runtime's internal file reader, for its size cap (not public API).
extern "C" sora_status sora_read_whole_file(const char *path, const char *what,
                                            int64_t max_bytes, char **out,
                                            int64_t *size);

namespace {

using namespace sora_test;

Bytes text(const std::string &s) { return Bytes(s.begin(), s.end()); }

Bytes operator+(Bytes a, const Bytes &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// `n` copies of byte `v`.
Bytes fill(size_t n, uint8_t v = 0) { return Bytes(n, v); }

/// `contents` gzip-compressed.
Bytes gzipped(const TempDir &dir, const Bytes &contents) {
  std::string tmp = dir.file("tmp.gz");
  write_gz(tmp, contents);
  Bytes b = read_raw(tmp);
  std::remove(tmp.c_str());
  return b;
}

/// Replaces every "{dir}" in `s`.
std::string expand(std::string s, const std::string &dir) {
  for (size_t at; (at = s.find("{dir}")) != std::string::npos;)
    s.replace(at, 5, dir);
  return s;
}

/// Appends a row to $SORA_ROBUSTNESS_TABLE, if set.
void table_row(const std::string &what, const std::string &message) {
  const char *file = std::getenv("SORA_ROBUSTNESS_TABLE");
  if (!file)
    return;
  std::string m = message;
  for (size_t at; (at = m.find('|')) != std::string::npos;)
    m.replace(at, 1, "\\|");
  std::ofstream(file, std::ios::app) << "| " << what << " | `" << m << "` |\n";
}

/// A bad input: what is wrong, the files it is made of (written into the
/// test's directory), the status and exact message.
struct BadInput {
  std::string what;
  std::function<void(const TempDir &)> write;
  sora_status status;
  std::string message;
};

/*===--- IDX
 * ---------------------------------------------------------------===*/

/// Three 2x2 images and their labels 0, 1, 2 (onehot: 3).
Bytes images3() { return idx({3, 2, 2}, fill(12, 7)); }
Bytes labels3() { return idx({3}, {0, 1, 2}); }

/// The images file `x`, good labels.
std::function<void(const TempDir &)> images(Bytes x) {
  return [x](const TempDir &d) {
    write_raw(d.file("x.idx"), x);
    write_raw(d.file("y.idx"), labels3());
  };
}
/// Good images, the labels file `y`.
std::function<void(const TempDir &)> labels(Bytes y) {
  return [y](const TempDir &d) {
    write_raw(d.file("x.idx"), images3());
    write_raw(d.file("y.idx"), y);
  };
}

const std::string kX = "images file '{dir}/x.idx'";
const std::string kY = "labels file '{dir}/y.idx'";

std::vector<BadInput> idx_cases(const TempDir &dir) {
  Bytes gz = gzipped(dir, images3());
  Bytes bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0xff; // the trailer's CRC-32
  Bytes cut = Bytes(gz.begin(), gz.begin() + (long)gz.size() / 2);
  Bytes bad_deflate = gz;
  bad_deflate[10] = 0xff; // the first block: a reserved block type
  return {
      {"empty images file", images({}), SORA_ERR_FORMAT,
       kX + ": not an IDX file (only 0 bytes long)"},
      {"3-byte file", images({0, 0, 8}), SORA_ERR_FORMAT,
       kX + ": not an IDX file (only 3 bytes long)"},
      {"wrong magic number (a PGM image)", images(text("P5 28 28 255\n")),
       SORA_ERR_FORMAT,
       kX + ": not an IDX file (bad magic number 50 35 20 32, expected 00 00 "
            "08 <ndim>)"},
      {"element type other than unsigned bytes (0x0D, float)",
       images(idx({3, 2, 2}, fill(48), 0x0d)), SORA_ERR_FORMAT,
       kX + ": unsupported IDX element type 0x0d (only unsigned bytes, 0x08, "
            "are supported)"},
      {"rank 0", images({0, 0, 8, 0}), SORA_ERR_FORMAT,
       kX + ": unsupported IDX rank 0 (expected 1..8)"},
      {"rank 9 (more than 8 dimensions)", images({0, 0, 8, 9}), SORA_ERR_FORMAT,
       kX + ": unsupported IDX rank 9 (expected 1..8)"},
      {"header cut inside the dimensions", images({0, 0, 8, 3, 0, 0, 0, 3}),
       SORA_ERR_FORMAT, kX + ": truncated IDX header (3 dimensions announced)"},
      {"a dimension of 0", images(idx({3, 0, 2}, {})), SORA_ERR_FORMAT,
       kX + ": dimension 1 is 0"},
      {"dimensions whose product overflows 64 bits",
       images(idx({0xffffffff, 0xffffffff, 0xffffffff}, {})), SORA_ERR_FORMAT,
       kX + ": too large (more than 2147483648 elements)"},
      {"dimensions whose product exceeds 2^31 elements",
       images(idx({65536, 32769}, {})), SORA_ERR_FORMAT,
       kX + ": too large (more than 2147483648 elements)"},
      {"dimensions (2^31 elements) exceeding the file",
       images(idx({65536, 32768}, fill(4))), SORA_ERR_FORMAT,
       kX + ": truncated: the header announces 2147483648 bytes of data, the "
            "file holds only 4"},
      {"data cut short", images(idx({3, 2, 2}, fill(11))), SORA_ERR_FORMAT,
       kX + ": truncated: the header announces 12 bytes of data, the file "
            "holds only 11"},
      {"data after the announced elements", images(idx({3, 2, 2}, fill(13))),
       SORA_ERR_FORMAT,
       kX + ": unexpected data after the 12 bytes the IDX header announces"},
      {"gzip cut short", images(cut), SORA_ERR_FORMAT,
       kX + ": corrupt or truncated gzip data: unexpected end of file"},
      {"gzip with a bad CRC", images(bad_crc), SORA_ERR_FORMAT,
       kX + ": corrupt or truncated gzip data: incorrect data check"},
      {"gzip with corrupt deflate data", images(bad_deflate), SORA_ERR_FORMAT,
       kX + ": corrupt or truncated gzip data: invalid block type"},
      {"labels with two dimensions", labels(idx({3, 1}, {0, 1, 2})),
       SORA_ERR_FORMAT,
       kY + ": expected one dimension (one label per sample), found 2"},
      {"label count different from image count", labels(idx({2}, {0, 1})),
       SORA_ERR_FORMAT, kX + " holds 3 samples but " + kY + " holds 2 labels"},
      {"label out of range for onehot: 3", labels(idx({3}, {0, 3, 1})),
       SORA_ERR_FORMAT,
       kY + ": label 3 of sample 1 is out of range for onehot: 3"},
      {"labels file missing",
       [](const TempDir &d) { write_raw(d.file("x.idx"), images3()); },
       SORA_ERR_IO,
       "data file 'y.idx' not found (searched in: {dir}, /usr/share/"
       "datasets)"},
      {"a directory where the images file should be",
       [](const TempDir &d) {
         std::filesystem::create_directory(d.file("x.idx"));
         write_raw(d.file("y.idx"), labels3());
       },
       SORA_ERR_IO,
       "data file 'x.idx' not found (searched in: {dir}, /usr/share/"
       "datasets)"},
  };
}

TEST(Robustness, BadIdxFiles) {
  TempDir tables;
  for (const BadInput &c : idx_cases(tables)) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    c.write(dir);
    sora_data_spec spec = idx_source("x.idx", "y.idx", kLabel);
    sora_dataset ds;
    EXPECT_EQ(sora_dataset_load_idx(&spec, dir.path().c_str(), nullptr, &ds),
              c.status);
    EXPECT_EQ(std::string(sora_last_error()), expand(c.message, dir.path()));
    EXPECT_EQ(ds.x, nullptr);
    EXPECT_EQ(ds.y, nullptr);
    EXPECT_EQ(ds.count, 0);
    table_row("IDX: " + c.what, c.message);
  }
}

/*===--- Data that loads but does not fit the model (sora_model_fit) ------===*/

TEST(Robustness, DataThatDoesNotFitTheModel) {
  struct Case {
    std::string what;
    std::function<void(sora_model_desc &)> change;
    std::string message;
  };
  std::vector<Case> cases = {
      {"image shape not matching the model's input (3x3 images, the model "
       "takes 4 values)",
       [](sora_model_desc &) {}, // x.idx holds 3x3 images here
       "model 'fake': data 'x.idx' has 9 values per sample, but the model "
       "takes 4"},
      {"labels without onehot for a model whose loss expects one-hot rows",
       [](sora_model_desc &d) {
         d.input_size = 9;
         d.data.onehot = 0;
       },
       "model 'fake': data labels 'y.idx' give 1 values per sample (onehot: "
       "0), but the model's loss expects 3"},
      {"test set of another shape than the training data",
       [](sora_model_desc &d) {
         d.input_size = 9;
         d.test = idx_source("t.idx", "y.idx");
       },
       "model 'fake': test 't.idx' has 4 values per sample, but the model "
       "takes 9"},
      {"CSV with more feature columns than the model's inputs",
       [](sora_model_desc &d) { d.data = csv_source("wide.csv", 0); },
       "model 'fake': data 'wide.csv' has 5 values per sample, but the model "
       "takes 4"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    write_raw(dir.file("x.idx"), idx({3, 3, 3}, fill(27, 1)));
    write_raw(dir.file("y.idx"), labels3());
    write_raw(dir.file("t.idx"), images3());
    write_raw(dir.file("wide.csv"), text("0,1,2,3,4,5\n1,1,2,3,4,5\n"));
    sora_model_desc desc = fake_desc(dir.path().c_str());
    c.change(desc);
    sora_model *m = nullptr;
    ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
    sora_fit_options o = sora_fit_defaults();
    o.verbose = 0;
    sora_metrics test;
    o.test = &test;
    calls().clear();
    EXPECT_EQ(sora_model_fit(m, nullptr, &o), SORA_ERR_ARGUMENT);
    EXPECT_EQ(std::string(sora_last_error()), c.message);
    EXPECT_TRUE(calls().empty()) << "trained on data that does not fit";
    sora_model_destroy(m);
    table_row("Model: " + c.what, c.message);
  }
}

/*===--- CSV
 * ---------------------------------------------------------------===*/

struct CsvCase {
  std::string what;
  std::string contents;
  int64_t label_column, onehot;
  double scale;
  std::string message; // after "{dir}/data.csv"
};

TEST(Robustness, BadCsvFiles) {
  std::vector<CsvCase> cases = {
      {"empty file", "", 2, 0, 1, " is empty"},
      {"only blank lines", "\n  \r\n\t\n", 2, 0, 1, " is empty"},
      {"a header and no data", "a,b,label\n\n", 2, 0, 1, " has no data rows"},
      {"missing column (a short line)", "a,b,label\n1,2,0\n3,4\n", 2, 0, 1,
       ":3: 2 columns, but line 1 has 3"},
      {"an extra column", "1,2,0\n3,4,1,5\n", 2, 0, 1,
       ":2: 4 columns, but line 1 has 3"},
      {"label_column beyond the last column", "1,2,0\n", 3, 0, 1,
       ":1: label_column 3 does not exist: the line has 3 columns (counted "
       "from 0)"},
      {"only the label column", "0\n1\n", 0, 0, 1,
       ":1: only the label column: no features"},
      {"non-numeric text", "1,2,0\n3,abc,1\n", 2, 0, 1,
       ":2: column 1 ('abc') is not a number"},
      {"NaN", "1,2,0\n3,NaN,1\n", 2, 0, 1,
       ":2: column 1 ('NaN') is not a number"},
      {"nan", "1,2,0\nnan,4,1\n", 2, 0, 1,
       ":2: column 0 ('nan') is not a number"},
      {"inf", "1,2,0\n3,inf,1\n", 2, 0, 1,
       ":2: column 1 ('inf') is not a number"},
      {"-Infinity", "1,2,0\n3,-Infinity,1\n", 2, 0, 1,
       ":2: column 1 ('-Infinity') is not a number"},
      {"hexadecimal float", "1,2,0\n3,0x1p3,1\n", 2, 0, 1,
       ":2: column 1 ('0x1p3') is not a number"},
      {"quoted number", "1,2,0\n3,\"4\",1\n", 2, 0, 1,
       ":2: column 1 ('\"4\"') is not a number"},
      {"two numbers in a field", "1,2,0\n3,4 5,1\n", 2, 0, 1,
       ":2: column 1 ('4 5') is not a number"},
      {"an empty field", "1,2,0\n3,,1\n", 2, 0, 1, ":2: column 1 is empty"},
      {"a number beyond double (1e999)", "1,2,0\n3,1e999,1\n", 2, 0, 1,
       ":2: column 1 ('1e999') is out of range"},
      {"a feature beyond float (1e300)", "1,2,0\n3,1e300,1\n", 2, 0, 1,
       ":2: column 1 ('1e300') times scale 1 does not fit a 32-bit float"},
      {"a feature times scale beyond float", "1,2,0\n3,1e30,1\n", 2, 0, 1e10,
       ":2: column 1 ('1e30') times scale 1e+10 does not fit a 32-bit float"},
      {"a label beyond float", "1,2,1e300\n", 2, 0, 1,
       ":1: label '1e300' does not fit a 32-bit float"},
      {"label out of range for onehot: 3", "1,2,0\n3,4,3\n", 2, 3, 1,
       ":2: label '3' (column 2) is not a whole number in [0, 3) as onehot: 3 "
       "requires"},
      {"negative label with onehot", "1,2,-1\n", 2, 3, 1,
       ":1: label '-1' (column 2) is not a whole number in [0, 3) as onehot: "
       "3 requires"},
      {"fractional label with onehot", "1,2,1.5\n", 2, 3, 1,
       ":1: label '1.5' (column 2) is not a whole number in [0, 3) as onehot: "
       "3 requires"},
  };
  for (const CsvCase &c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    write_raw(dir.file("data.csv"), text(c.contents));
    sora_data_spec spec =
        csv_source("data.csv", c.label_column, c.onehot, c.scale);
    sora_dataset ds;
    EXPECT_EQ(sora_dataset_load_csv(&spec, dir.path().c_str(), nullptr, &ds),
              SORA_ERR_FORMAT);
    std::string path = dir.file("data.csv");
    std::string want = c.message[0] == ':'
                           ? path + c.message
                           : "csv file '" + path + "'" + c.message;
    EXPECT_EQ(std::string(sora_last_error()), want);
    EXPECT_EQ(ds.x, nullptr);
    EXPECT_EQ(ds.count, 0);
    table_row("CSV: " + c.what, (c.message[0] == ':' ? "{dir}/data.csv"
                                                     : "csv file "
                                                       "'{dir}/data.csv'") +
                                    c.message);
  }
}

TEST(Robustness, CorruptGzipCsv) {
  TempDir dir;
  Bytes gz = gzipped(dir, text("a,b\n1,2\n3,4\n"));
  write_raw(dir.file("data.csv"), Bytes(gz.begin(), gz.end() - 6));
  sora_data_spec spec = csv_source("data.csv", 1, 0);
  sora_dataset ds;
  EXPECT_EQ(sora_dataset_load_csv(&spec, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_FORMAT);
  std::string want = "csv file '{dir}/data.csv': corrupt or truncated gzip "
                     "data: unexpected end of file";
  EXPECT_EQ(std::string(sora_last_error()), expand(want, dir.path()));
  table_row("CSV: gzip cut short", want);
}

/*===--- Checkpoints (safetensors)
 * -----------------------------------------===*/

/// A safetensors file: the 8-byte little-endian `length`, then `rest`.
Bytes with_length(uint64_t length, const std::string &rest) {
  Bytes b;
  for (int k = 0; k < 8; ++k)
    b.push_back(static_cast<uint8_t>(length >> (8 * k)));
  return b + text(rest);
}

/// A safetensors file with `header` and `data_bytes` bytes of data.
Bytes st(const std::string &header, size_t data_bytes = 60) {
  return with_length(header.size(), header) + fill(data_bytes);
}

std::string entry(const std::string &name, const std::string &body) {
  return "\"" + name + "\":{" + body + "}";
}
std::string f32(const std::string &shape, int64_t begin, int64_t end) {
  return "\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]";
}
const std::string kWeight = entry("dense.weight", f32("[3,4]", 0, 48));
const std::string kBias = entry("dense.bias", f32("[3]", 48, 60));
/// The weights, then `more` entries.
std::string header(const std::string &more = "") {
  return "{" + kWeight + "," + kBias + more + "}";
}

const std::string kCk = "checkpoint '{dir}/ck.safetensors'";

std::vector<BadInput> checkpoint_cases() {
  auto file = [](Bytes b) {
    return [b](const TempDir &d) { write_raw(d.file("ck.safetensors"), b); };
  };
  return {
      {"file missing", [](const TempDir &) {}, SORA_ERR_IO,
       "cannot open checkpoint '{dir}/ck.safetensors': No such file or "
       "directory"},
      {"a directory",
       [](const TempDir &d) {
         std::filesystem::create_directory(d.file("ck.safetensors"));
       },
       SORA_ERR_IO, kCk + " is not a regular file"},
      {"empty file", file({}), SORA_ERR_FORMAT,
       kCk + " is not a safetensors file: 0 bytes long, less than its 8-byte "
             "header length"},
      {"header length beyond the 100 MB cap",
       file(with_length(100000001, "{}")), SORA_ERR_FORMAT,
       kCk + ": header length 100000001 exceeds the limit of 100000000 bytes "
             "(not a safetensors file?)"},
      {"lying header length (past the end of the file)",
       file(with_length(64, "{}")), SORA_ERR_FORMAT,
       kCk + ": header length 64 runs past the end of the file (10 bytes): "
             "truncated or not a safetensors file"},
      {"a header that is not JSON", file(st("not json")), SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 0: expected '{'"},
      {"a header cut inside a string", file(st("{\"dense.wei")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 11: unterminated "
             "string"},
      {"text after the header's object", file(st(header() + "x")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 132: unexpected text after the "
             "header's object"},
      {"a control character in a name", file(st("{\"a\nb\":{}}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 3: control character in a string"},
      {"an invalid escape", file(st("{\"a\\x\":{}}")), SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 3: invalid escape in a string"},
      {"an unpaired surrogate", file(st("{\"\\ud800\":{}}")), SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 8: unpaired surrogate in a \\u "
             "escape"},
      {"\\u0000 in a name", file(st("{\"a\\u0000\":{}}")), SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 9: \\u0000 in a string"},
      {"an empty tensor entry", file(st("{\"a\":{}}")), SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 7: empty tensor entry"},
      {"an unknown field in a tensor entry",
       file(st(header("," + entry("x", "\"dtype\":\"F32\",\"bogus\":1")))),
       SORA_ERR_FORMAT,
       kCk + ": tensor 'x' has an unknown or repeated field 'bogus'"},
      {"a tensor without data_offsets",
       file(st("{" +
               entry("dense.weight", "\"dtype\":\"F32\",\"shape\":[3,4]") +
               "}")),
       SORA_ERR_FORMAT, kCk + ": tensor 'dense.weight' lacks 'data_offsets'"},
      {"a negative dimension",
       file(st("{" + entry("dense.weight", f32("[-3,4]", 0, 48)) + "}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 40: expected a non-negative integer"},
      {"a fractional offset",
       file(st("{" +
               entry("dense.weight", "\"dtype\":\"F32\",\"shape\":[3,4],"
                                     "\"data_offsets\":[0,4.8e1]") +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 64: expected a whole number"},
      {"an integer beyond 2^53",
       file(st("{" + entry("dense.weight", f32("[9007199254740993]", 0, 48)) +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 40: integer too "
             "large"},
      {"more than 8 dimensions",
       file(st("{" + entry("dense.weight", f32("[1,1,1,1,1,1,1,1,1]", 0, 4)) +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 56: too many elements in an array"},
      {"three data_offsets",
       file(st("{" +
               entry("dense.weight", "\"dtype\":\"F32\",\"shape\":[3,4],"
                                     "\"data_offsets\":[0,48,60]") +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 66: too many elements in an array"},
      {"one data_offset",
       file(st("{" +
               entry("dense.weight", "\"dtype\":\"F32\",\"shape\":[3,4],"
                                     "\"data_offsets\":[48]") +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 64: data_offsets needs two integers"},
      {"dtype F16",
       file(st("{" +
               entry("dense.weight", "\"dtype\":\"F16\",\"shape\":[3,4],"
                                     "\"data_offsets\":[0,24]") +
               "," + kBias + "}")),
       SORA_ERR_FORMAT,
       kCk + ": tensor 'dense.weight' has dtype F16; only F32 is supported"},
      {"offsets beyond the data section", file(st(header(), 59)),
       SORA_ERR_FORMAT,
       kCk + ": tensor 'dense.bias' has data_offsets [48, 60] outside the data "
             "section of 59 bytes"},
      {"offsets reversed",
       file(st("{" + kWeight + "," + entry("dense.bias", f32("[3]", 60, 48)) +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": tensor 'dense.bias' has data_offsets [60, 48] outside the data "
             "section of 60 bytes"},
      {"offsets that do not span the shape",
       file(st("{" + entry("dense.weight", f32("[3,4]", 0, 44)) + "," + kBias +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": tensor 'dense.weight' of shape [3, 4] needs 48 bytes of F32, "
             "but its data_offsets span 44"},
      {"overlapping offsets",
       file(st("{" + kWeight + "," + entry("dense.bias", f32("[3]", 40, 52)) +
               "}")),
       SORA_ERR_FORMAT,
       kCk + ": the data of tensors 'dense.weight' and 'dense.bias' overlap"},
      {"a tensor named twice", file(st(header("," + kBias))), SORA_ERR_FORMAT,
       kCk + ": tensor 'dense.bias' appears twice"},
      {"a missing tensor", file(st("{" + kWeight + "}")), SORA_ERR_FORMAT,
       kCk + " has no tensor 'dense.bias' (model 'fake')"},
      {"an extra tensor",
       file(st(header("," + entry("extra", f32("[0]", 60, 60))))),
       SORA_ERR_FORMAT,
       kCk + " has tensor 'extra', which model 'fake' lacks: is it a "
             "checkpoint of another model?"},
      {"a wrong shape",
       file(st("{" + entry("dense.weight", f32("[4,3]", 0, 48)) + "," + kBias +
               "}")),
       SORA_ERR_FORMAT,
       "tensor 'dense.weight' has shape [3, 4] in the model but [4, 3] in "
       "checkpoint '{dir}/ck.safetensors'"},
      {"part of the optimizer state",
       file(
           st(header("," + entry("optimizer.dense.bias.m", f32("[3]", 60, 72))),
              72)),
       SORA_ERR_FORMAT,
       kCk + " has optimizer state 'optimizer.dense.bias.m' but not "
             "'optimizer.dense.weight.m': it is incomplete"},
      {"metadata that is not a string",
       file(st(header(",\"__metadata__\":{\"step\":3}"))), SORA_ERR_FORMAT,
       kCk + ": malformed header at byte 155: metadata values must be "
             "strings"},
      {"a negative step",
       file(st(header(",\"__metadata__\":{\"format\":\"sora\",\"step\":"
                      "\"-1\"}"))),
       SORA_ERR_FORMAT,
       kCk + ": metadata step '-1' is not a non-negative integer"},
      {"a generator state that is not 64 hex digits",
       file(st(header(",\"__metadata__\":{\"format\":\"sora\",\"rng\":"
                      "\"xyz\"}"))),
       SORA_ERR_FORMAT,
       kCk + ": metadata rng 'xyz' is not 64 hex digits of a generator "
             "state"},
      {"__metadata__ twice",
       file(st(header(",\"__metadata__\":{},\"__metadata__\":{}"))),
       SORA_ERR_FORMAT, kCk + ": '__metadata__' appears twice"},
  };
}

TEST(Robustness, BadCheckpoints) {
  for (const BadInput &c : checkpoint_cases()) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    c.write(dir);
    sora_model_desc desc = fake_desc(dir.path().c_str());
    sora_model *m = nullptr;
    ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK);
    std::vector<float> before(sora_model_params(m),
                              sora_model_params(m) + desc.params_floats);
    std::string path = dir.file("ck.safetensors");
    EXPECT_EQ(sora_model_load(m, path.c_str()), c.status);
    EXPECT_EQ(std::string(sora_last_error()), expand(c.message, dir.path()));
    EXPECT_EQ(std::vector<float>(sora_model_params(m),
                                 sora_model_params(m) + desc.params_floats),
              before);
    EXPECT_EQ(sora_model_step(m), 0);
    sora_model_destroy(m);
    table_row("Checkpoint: " + c.what, c.message);
  }
}

/// The control of the catalogue: the weights alone load.
TEST(Robustness, TheWellFormedCheckpointLoads) {
  TempDir dir;
  write_raw(dir.file("ck.safetensors"), st(header()));
  sora_model_desc desc = fake_desc(dir.path().c_str());
  sora_model *m = nullptr;
  ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK);
  EXPECT_EQ(sora_model_load(m, dir.file("ck.safetensors").c_str()), SORA_OK)
      << sora_last_error();
  sora_model_destroy(m);
}

/*===--- Limits
 * -------------------------------------------------------------===*/

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SORA_SANITIZER_SHADOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SORA_SANITIZER_SHADOW 1
#endif
#endif

/// Runs `body` in a child process whose address space is capped at
/// `bytes`; returns its exit status (ASan and TSan need far more address
/// space than they use: under them, `body` runs without the cap).
int with_memory_cap(size_t bytes, const std::function<int()> &body) {
#ifdef SORA_SANITIZER_SHADOW
  (void)bytes;
  return body();
#else
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit r = {bytes, bytes};
    setrlimit(RLIMIT_AS, &r);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
#endif
}

/// An IDX header announcing 2^31 bytes over 4 bytes of data: the loader
/// reads what is there and reports the truncation; it used to allocate (and
/// zero) the 2 GiB first.
TEST(Robustness, IdxHeaderLargerThanTheFileNeedsNoMemory) {
  TempDir dir;
  write_raw(dir.file("x.idx"), idx({65536, 32768}, fill(4)));
  write_raw(dir.file("y.idx"), labels3());
  int status = with_memory_cap(size_t(1) << 30, [&] {
    sora_data_spec spec = idx_source("x.idx", "y.idx");
    sora_dataset ds;
    sora_status s =
        sora_dataset_load_idx(&spec, dir.path().c_str(), nullptr, &ds);
    bool truncated = std::strstr(sora_last_error(), "truncated") != nullptr;
    if (s != SORA_ERR_FORMAT || !truncated)
      std::fprintf(stderr, "got %d: %s\n", s, sora_last_error());
    return s == SORA_ERR_FORMAT && truncated ? 0 : 1;
  });
  EXPECT_EQ(status, 0);
}

/// A CSV file of one 65 536-column line and 32 767 one-column lines (200
/// KB) is refused for its second line before anything is allocated; it
/// used to allocate 2^31 floats (8 GiB) first.
TEST(Robustness, CsvWithRaggedLinesNeedsNoMemory) {
  TempDir dir;
  std::string csv;
  for (int i = 0; i < 65535; ++i)
    csv += "0,";
  csv += "0\n";
  for (int i = 0; i < 32767; ++i)
    csv += "1\n";
  write_raw(dir.file("data.csv"), text(csv));
  int status = with_memory_cap(size_t(1) << 30, [&] {
    sora_data_spec spec = csv_source("data.csv", 0, 0);
    sora_dataset ds;
    sora_status s =
        sora_dataset_load_csv(&spec, dir.path().c_str(), nullptr, &ds);
    std::string want = dir.file("data.csv") + ":2: 1 columns, but line 1 "
                                              "has 65536";
    if (s != SORA_ERR_FORMAT || want != sora_last_error())
      std::fprintf(stderr, "got %d: %s\n", s, sora_last_error());
    return s == SORA_ERR_FORMAT && want == sora_last_error() ? 0 : 1;
  });
  EXPECT_EQ(status, 0);
}

/// The largest CSV text: sora_read_whole_file refuses a file past its cap
/// (2^36 bytes for CSV, far too much to write in a test: here with a cap of
/// 100 bytes), gzip or not, without reading much beyond it.
TEST(Robustness, WholeFileReaderCap) {
  TempDir dir;
  write_raw(dir.file("big.csv"), fill(101, '1'));
  write_gz(dir.file("big.csv.gz"), fill(1 << 20, '1'));
  write_raw(dir.file("ok.csv"), fill(100, '1'));
  char *out = nullptr;
  int64_t size = 0;
  EXPECT_EQ(sora_read_whole_file(dir.file("big.csv").c_str(), "csv", 100, &out,
                                 &size),
            SORA_ERR_FORMAT);
  EXPECT_EQ(std::string(sora_last_error()),
            "csv file '" + dir.file("big.csv") +
                "': larger than the limit of 100 bytes");
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(sora_read_whole_file(dir.file("big.csv.gz").c_str(), "csv", 100,
                                 &out, &size),
            SORA_ERR_FORMAT);
  EXPECT_EQ(out, nullptr);
  ASSERT_EQ(
      sora_read_whole_file(dir.file("ok.csv").c_str(), "csv", 100, &out, &size),
      SORA_OK);
  EXPECT_EQ(size, 100);
  std::free(out);
  table_row("CSV: larger than the cap (2^36 bytes; here a cap of 100)",
            "csv file '{dir}/big.csv': larger than the limit of 100 bytes");
}

/// The largest IDX tensor: 2^31 elements are accepted (then found
/// truncated), one more dimension step is refused as too large.
TEST(Robustness, IdxElementCapIsTwoToThe31) {
  TempDir dir;
  write_raw(dir.file("y.idx"), labels3());
  sora_data_spec spec = idx_source("x.idx", "y.idx");
  sora_dataset ds;
  write_raw(dir.file("x.idx"), idx({0x80000000u}, {}));
  EXPECT_EQ(sora_dataset_load_idx(&spec, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_FORMAT);
  EXPECT_NE(std::string(sora_last_error()).find("announces 2147483648 bytes"),
            std::string::npos)
      << sora_last_error();
  write_raw(dir.file("x.idx"), idx({0x80000001u}, {}));
  EXPECT_EQ(sora_dataset_load_idx(&spec, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_FORMAT);
  EXPECT_NE(std::string(sora_last_error())
                .find("too large (more than "
                      "2147483648 elements)"),
            std::string::npos)
      << sora_last_error();
}

/// The largest checkpoint header: 100 000 000 bytes pass the cap (and are
/// then checked against the file), one more is refused before anything is
/// allocated or read.
TEST(Robustness, CheckpointHeaderCap) {
  TempDir dir;
  sora_model_desc desc = fake_desc(dir.path().c_str());
  sora_model *m = nullptr;
  ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK);
  std::string path = dir.file("ck.safetensors");
  write_raw(path, with_length(100000000, "{}"));
  EXPECT_EQ(sora_model_load(m, path.c_str()), SORA_ERR_FORMAT);
  EXPECT_NE(std::string(sora_last_error()).find("runs past the end"),
            std::string::npos)
      << sora_last_error();
  write_raw(path, with_length(100000001, "{}"));
  EXPECT_EQ(sora_model_load(m, path.c_str()), SORA_ERR_FORMAT);
  EXPECT_NE(std::string(sora_last_error()).find("exceeds the limit"),
            std::string::npos)
      << sora_last_error();
  sora_model_destroy(m);
}

} // namespace
