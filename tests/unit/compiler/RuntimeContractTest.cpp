//===- RuntimeContractTest.cpp - The generated layout matches runtime.h ---===//
//
// The descriptor constants and the kernel signature are built from
// CodeGen/RuntimeContract.def; runtime.h's C structs are written by hand.
// These tests hold the two to the same layout, field by field, under the
// host's data layout, and check that every loss maps to a sora_loss_kind.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/RuntimeContract.h"
#include "CodeGen/Descriptor.h"
#include "CodeGen/Target.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"
#include "sora/runtime.h"

#include <gtest/gtest.h>
#include <llvm/IR/DataLayout.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/Support/TargetSelect.h>

#include <cstddef>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

namespace sora::ir {
namespace {

/// One field of a C struct: where runtime.h puts it, and how many LLVM
/// struct elements stand for it (an int64_t[4] is four).
struct CField {
  const char *name;
  size_t offset, size;
  unsigned elements;
};

constexpr unsigned elementsOf(const char *kind) {
  return kind[0] == 'I' && kind[3] == 'x' ? 4 : 1; // "I64x4"
}

std::vector<CField> cFields(RuntimeStruct s) {
  std::vector<CField> fields;
#define SORA_STRUCT_FIELD(Struct, member, Kind)                                \
  if (s == RuntimeStruct::Struct)                                              \
    fields.push_back({#member, offsetof(Struct, member),                       \
                      sizeof(Struct::member), elementsOf(#Kind)});
#include "CodeGen/RuntimeContract.def"
  return fields;
}

size_t cSize(RuntimeStruct s) {
  switch (s) {
  case RuntimeStruct::sora_data_spec:
    return sizeof(sora_data_spec);
  case RuntimeStruct::sora_param_desc:
    return sizeof(sora_param_desc);
  case RuntimeStruct::sora_input_desc:
    return sizeof(sora_input_desc);
  case RuntimeStruct::sora_early_stopping:
    return sizeof(sora_early_stopping);
  case RuntimeStruct::sora_plateau:
    return sizeof(sora_plateau);
  case RuntimeStruct::sora_model_desc:
    return sizeof(sora_model_desc);
  }
  return 0;
}

llvm::DataLayout hostLayout() {
  llvm::InitializeNativeTarget();
  std::string error;
  auto tm = createTargetMachine("", "", 2, error);
  EXPECT_TRUE(tm) << error;
  return tm->createDataLayout();
}

void expectSameLayout(RuntimeStruct s, const char *name) {
  llvm::LLVMContext ctx;
  llvm::DataLayout dl = hostLayout();
  llvm::StructType *type = runtimeStructType(ctx, s);
  const llvm::StructLayout *layout = dl.getStructLayout(type);
  unsigned element = 0;
  for (const CField &f : cFields(s)) {
    ASSERT_LE(element + f.elements, type->getNumElements()) << name;
    uint64_t first = layout->getElementOffset(element);
    unsigned last = element + f.elements - 1;
    uint64_t end = layout->getElementOffset(last) +
                   dl.getTypeAllocSize(type->getElementType(last));
    EXPECT_EQ(first, f.offset) << name << "." << f.name << ": offset";
    EXPECT_EQ(end - first, f.size) << name << "." << f.name << ": size";
    element += f.elements;
  }
  EXPECT_EQ(element, type->getNumElements()) << name;
  EXPECT_EQ(layout->getSizeInBytes(), cSize(s)) << name << ": sizeof";
}

TEST(RuntimeContract, DataSpecLayoutMatchesRuntimeHeader) {
  expectSameLayout(RuntimeStruct::sora_data_spec, "sora_data_spec");
}

TEST(RuntimeContract, ParamDescLayoutMatchesRuntimeHeader) {
  expectSameLayout(RuntimeStruct::sora_param_desc, "sora_param_desc");
}

TEST(RuntimeContract, InputDescLayoutMatchesRuntimeHeader) {
  expectSameLayout(RuntimeStruct::sora_input_desc, "sora_input_desc");
}

TEST(RuntimeContract, EarlyStoppingLayoutMatchesRuntimeHeader) {
  expectSameLayout(RuntimeStruct::sora_early_stopping, "sora_early_stopping");
}

TEST(RuntimeContract, PlateauLayoutMatchesRuntimeHeader) {
  expectSameLayout(RuntimeStruct::sora_plateau, "sora_plateau");
}

TEST(RuntimeContract, ModelDescLayoutMatchesRuntimeHeader) {
  expectSameLayout(RuntimeStruct::sora_model_desc, "sora_model_desc");
}

template <typename F> struct Signature;
template <typename R, typename... A> struct Signature<R (*)(A...)> {
  using Args = std::tuple<A...>;
};

template <typename Args, size_t... I>
void expectArguments(llvm::FunctionType *fty, const llvm::DataLayout &dl,
                     std::index_sequence<I...>) {
  ASSERT_EQ(fty->getNumParams(), sizeof...(I));
  auto check = [&](unsigned i, bool pointer, size_t size) {
    llvm::Type *t = fty->getParamType(i);
    EXPECT_EQ(t->isPointerTy(), pointer) << kKernelArgNames[i];
    EXPECT_EQ(dl.getTypeAllocSize(t), size) << kKernelArgNames[i];
  };
  (check(I, std::is_pointer_v<std::tuple_element_t<I, Args>>,
         sizeof(std::tuple_element_t<I, Args>)),
   ...);
}

TEST(RuntimeContract, KernelSignatureMatchesRuntimeHeader) {
  using Args = Signature<sora_kernel_fn>::Args;
  llvm::LLVMContext ctx;
  llvm::DataLayout dl = hostLayout();
  ASSERT_EQ(size_t(kNumKernelArgs), std::tuple_size_v<Args>);
  expectArguments<Args>(kernelFunctionType(ctx), dl,
                        std::make_index_sequence<std::tuple_size_v<Args>>());
  EXPECT_TRUE(kernelFunctionType(ctx)->getReturnType()->isVoidTy());
}

TEST(RuntimeContract, EveryLossHasARuntimeKind) {
  std::set<int64_t> kinds;
  for (dsl::LossKind loss :
       {dsl::LossKind::CategoricalCrossentropy,
        dsl::LossKind::SparseCategoricalCrossentropy,
        dsl::LossKind::BinaryCrossentropy, dsl::LossKind::MeanSquaredError}) {
    int64_t kind = lossKind(loss);
    EXPECT_NE(kind, SORA_LOSS_NONE) << dsl::lossName(loss);
    kinds.insert(kind);
  }
  EXPECT_EQ(kinds.size(), 4u) << "two losses share a sora_loss_kind";
  EXPECT_EQ(lossKind(dsl::LossKind::MeanSquaredError),
            SORA_LOSS_MEAN_SQUARED_ERROR);
}

TEST(RuntimeContract, EmittedDescriptorHasTheContractType) {
  SourceFile file("contract.sora", R"(
model m {
  input x : f32[3]
  output y = dense(x, 2, activation: softmax)
}
train m { loss = categorical_crossentropy batch_size = 4 }
)");
  std::ostringstream diagnostics;
  DiagnosticEngine diags(file, diagnostics);
  auto ast = parseFile(file, diags);
  ASSERT_TRUE(ast) << diagnostics.str();
  std::optional<dsl::Program> program = checkProgram(*ast, diags);
  ASSERT_TRUE(program && !program->models.empty()) << diagnostics.str();
  CompiledModel cm = buildModelGraphs(program->models[0], ".");
  llvm::LLVMContext ctx;
  EmittedModule emitted = emitModule(cm, ctx);
  llvm::GlobalVariable *desc = emitted.module->getNamedGlobal("m_desc");
  ASSERT_TRUE(desc);
  EXPECT_EQ(desc->getValueType(),
            runtimeStructType(ctx, RuntimeStruct::sora_model_desc));
  for (llvm::Function &fn : *emitted.module) {
    if (fn.getName().ends_with("_kernel")) {
      EXPECT_EQ(fn.getFunctionType(), kernelFunctionType(ctx))
          << fn.getName().str();
    }
  }
}

} // namespace
} // namespace sora::ir
