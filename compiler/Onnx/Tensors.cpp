//===- Tensors.cpp - ONNX TensorProto to and from sora tensors ------------===//
#include "Onnx/Tensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace sora::onnx {

using ::onnx::TensorProto;
namespace fs = std::filesystem;

namespace {

/// Elements the shape says, or -1 for a negative dimension or an overflow.
int64_t elementCount(const TensorProto &t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (int64_t(1) << 40) / d))
      return -1;
    n *= d;
  }
  return n;
}

int elementBytes(int type) {
  switch (type) {
  case TensorProto::FLOAT:
  case TensorProto::INT32:
  case TensorProto::UINT32:
    return 4;
  case TensorProto::DOUBLE:
  case TensorProto::INT64:
  case TensorProto::UINT64:
    return 8;
  case TensorProto::INT16:
  case TensorProto::UINT16:
    return 2;
  case TensorProto::INT8:
  case TensorProto::UINT8:
  case TensorProto::BOOL:
    return 1;
  default:
    return 0;
  }
}

/// The bytes of a tensor stored as raw data, in the proto or in a file of
/// the model's folder (external_data: location, offset, length).
bool rawBytes(const TensorProto &t, const std::string &dir, std::string &bytes,
              std::string &error) {
  if (t.data_location() != TensorProto::EXTERNAL) {
    bytes = t.raw_data();
    return true;
  }
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &e : t.external_data()) {
    if (e.key() == "location")
      location = e.value();
    else if (e.key() == "offset" || e.key() == "length") {
      char *end = nullptr;
      long long v = std::strtoll(e.value().c_str(), &end, 10);
      if (e.value().empty() || *end || v < 0) {
        error = "external data " + e.key() + " '" + e.value() +
                "' is not a whole number";
        return false;
      }
      (e.key() == "offset" ? offset : length) = v;
    }
  }
  fs::path rel(location);
  if (location.empty() || rel.is_absolute()) {
    error = "external data location '" + location +
            "' must be a path relative to the model's folder";
    return false;
  }
  std::error_code ec;
  fs::path base = fs::weakly_canonical(dir.empty() ? "." : dir, ec);
  fs::path file = fs::weakly_canonical(base / rel, ec);
  auto [b, f] =
      std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (ec || b != base.end()) {
    error = "external data location '" + location +
            "' leaves the model's folder (refused)";
    return false;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot open external data file '" + location + "'";
    return false;
  }
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  if (length < 0)
    length = size - offset;
  if (offset > size || length > size - offset) {
    error = "external data file '" + location + "' is too short";
    return false;
  }
  bytes.resize(size_t(length));
  in.seekg(offset);
  in.read(bytes.data(), length);
  return bool(in);
}

/// Element `i` of raw little-endian bytes of `type`, as a double.
double rawElement(const std::string &bytes, int type, int64_t i) {
  const char *p = bytes.data() + i * elementBytes(type);
  auto get = [p](auto v) {
    std::memcpy(&v, p, sizeof v);
    return double(v);
  };
  switch (type) {
  case TensorProto::FLOAT:
    return get(float());
  case TensorProto::DOUBLE:
    return get(double());
  case TensorProto::INT64:
    return get(int64_t());
  case TensorProto::UINT64:
    return get(uint64_t());
  case TensorProto::INT32:
    return get(int32_t());
  case TensorProto::UINT32:
    return get(uint32_t());
  case TensorProto::INT16:
    return get(int16_t());
  case TensorProto::UINT16:
    return get(uint16_t());
  case TensorProto::INT8:
    return get(int8_t());
  default: // UINT8, BOOL
    return get(uint8_t());
  }
}

/// Every element as a double, from whichever field holds them.
bool readValues(const TensorProto &t, const std::string &dir,
                std::vector<double> &out, std::string &error) {
  int type = t.data_type();
  int64_t n = elementCount(t);
  if (n < 0) {
    error = "tensor '" + t.name() + "' has a negative or huge shape";
    return false;
  }
  if (!elementBytes(type)) {
    error = "tensor '" + t.name() + "' has element type " +
            elementTypeName(type) + ", which sorac does not read";
    return false;
  }
  out.clear();
  if (t.has_raw_data() || t.data_location() == TensorProto::EXTERNAL) {
    std::string bytes;
    if (!rawBytes(t, dir, bytes, error))
      return false;
    if (int64_t(bytes.size()) != n * elementBytes(type)) {
      error = "tensor '" + t.name() + "' has " + std::to_string(bytes.size()) +
              " bytes of data for " + std::to_string(n) + " elements";
      return false;
    }
    out.reserve(size_t(n));
    for (int64_t i = 0; i < n; ++i)
      out.push_back(rawElement(bytes, type, i));
    return true;
  }
  switch (type) {
  case TensorProto::FLOAT:
    out.assign(t.float_data().begin(), t.float_data().end());
    break;
  case TensorProto::DOUBLE:
    out.assign(t.double_data().begin(), t.double_data().end());
    break;
  case TensorProto::INT64:
    out.assign(t.int64_data().begin(), t.int64_data().end());
    break;
  case TensorProto::UINT64:
  case TensorProto::UINT32:
    out.assign(t.uint64_data().begin(), t.uint64_data().end());
    break;
  default: // the small integer types and bool live in int32_data
    out.assign(t.int32_data().begin(), t.int32_data().end());
  }
  if (int64_t(out.size()) != n) {
    error = "tensor '" + t.name() + "' has " + std::to_string(out.size()) +
            " values for " + std::to_string(n) + " elements";
    return false;
  }
  return true;
}

} // namespace

bool readFloats(const TensorProto &t, const std::string &dir, NamedTensor &out,
                std::string &error) {
  std::vector<double> values;
  if (!readValues(t, dir, values, error))
    return false;
  out.name = t.name();
  out.shape.assign(t.dims().begin(), t.dims().end());
  out.data.assign(values.begin(), values.end());
  return true;
}

bool readInts(const TensorProto &t, const std::string &dir,
              std::vector<int64_t> &out, std::string &error) {
  int type = t.data_type();
  if (type == TensorProto::FLOAT || type == TensorProto::DOUBLE) {
    error = "tensor '" + t.name() + "' holds " + elementTypeName(type) +
            " values where integers are expected";
    return false;
  }
  if (type != TensorProto::INT64 && type != TensorProto::UINT64) {
    // The narrower integers are exact as doubles.
    std::vector<double> values;
    if (!readValues(t, dir, values, error))
      return false;
    out.assign(values.begin(), values.end());
    return true;
  }
  // 64-bit integers are read exactly: a detour through double would round
  // them beyond 2^53, and INT64_MAX (a Slice's "to the end") to 2^63, which
  // no int64_t holds.
  const int64_t n = elementCount(t);
  if (n < 0) {
    error = "tensor '" + t.name() + "' has a negative or huge shape";
    return false;
  }
  std::vector<uint64_t> bits;
  if (t.has_raw_data() || t.data_location() == TensorProto::EXTERNAL) {
    std::string bytes;
    if (!rawBytes(t, dir, bytes, error))
      return false;
    if (int64_t(bytes.size()) != n * 8) {
      error = "tensor '" + t.name() + "' has " + std::to_string(bytes.size()) +
              " bytes of data for " + std::to_string(n) + " elements";
      return false;
    }
    bits.resize(size_t(n));
    std::memcpy(bits.data(), bytes.data(), bytes.size());
  } else if (type == TensorProto::INT64) {
    bits.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    bits.assign(t.uint64_data().begin(), t.uint64_data().end());
  }
  if (int64_t(bits.size()) != n) {
    error = "tensor '" + t.name() + "' has " + std::to_string(bits.size()) +
            " values for its shape";
    return false;
  }
  out.clear();
  for (uint64_t b : bits) {
    if (type == TensorProto::UINT64 &&
        b > uint64_t(std::numeric_limits<int64_t>::max())) {
      error = "tensor '" + t.name() + "' holds " + std::to_string(b) +
              ", beyond the largest 64-bit signed integer";
      return false;
    }
    out.push_back(int64_t(b));
  }
  return true;
}

TensorProto floatTensor(const std::string &name,
                        const std::vector<int64_t> &shape, const float *data) {
  TensorProto t;
  t.set_name(name);
  t.set_data_type(TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : shape) {
    t.add_dims(d);
    n *= d;
  }
  t.set_raw_data(std::string(reinterpret_cast<const char *>(data),
                             size_t(n) * sizeof(float)));
  return t;
}

std::string elementTypeName(int dataType) {
  if (TensorProto::DataType_IsValid(dataType)) {
    std::string name =
        TensorProto::DataType_Name(TensorProto::DataType(dataType));
    for (char &c : name)
      c = char(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  return "type " + std::to_string(dataType);
}

} // namespace sora::onnx
