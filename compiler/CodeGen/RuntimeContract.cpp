//===- RuntimeContract.cpp - Types the compiler shares with the runtime ---===//
#include "CodeGen/RuntimeContract.h"

#include <vector>

namespace sora::ir {

using namespace llvm;

namespace {

enum class FieldKind { Ptr, I64, F64, I64x4, DataSpec };

void addField(LLVMContext &ctx, std::vector<Type *> &fields, FieldKind kind) {
  switch (kind) {
  case FieldKind::Ptr:
    fields.push_back(PointerType::getUnqual(ctx));
    break;
  case FieldKind::I64:
    fields.push_back(Type::getInt64Ty(ctx));
    break;
  case FieldKind::F64:
    fields.push_back(Type::getDoubleTy(ctx));
    break;
  case FieldKind::I64x4:
    fields.insert(fields.end(), 4, Type::getInt64Ty(ctx));
    break;
  case FieldKind::DataSpec:
    fields.push_back(runtimeStructType(ctx, RuntimeStruct::sora_data_spec));
    break;
  }
}

} // namespace

StructType *runtimeStructType(LLVMContext &ctx, RuntimeStruct s) {
  std::vector<Type *> fields;
#define SORA_STRUCT_FIELD(Struct, member, Kind)                                \
  if (s == RuntimeStruct::Struct)                                              \
    addField(ctx, fields, FieldKind::Kind);
#include "CodeGen/RuntimeContract.def"
  return StructType::get(ctx, fields);
}

FunctionType *kernelFunctionType(LLVMContext &ctx) {
  std::vector<Type *> args;
#define SORA_KERNEL_ARG(member, name, Kind)                                    \
  addField(ctx, args, FieldKind::Kind);
#include "CodeGen/RuntimeContract.def"
  return FunctionType::get(Type::getVoidTy(ctx), args, false);
}

const std::array<const char *, kNumKernelArgs> kKernelArgNames = {
#define SORA_KERNEL_ARG(member, name, Kind) name,
#include "CodeGen/RuntimeContract.def"
};

} // namespace sora::ir
