# The sorac lit suite. Each test is a .sora (or .c) file whose RUN: lines
# drive the compiler; FileCheck checks what it prints.
import os
import sys
import lit.formats

config.name = "sorac"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".sora", ".test", ".ir"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sorac_obj_root, "tests/lit")

config.environment["PATH"] = os.pathsep.join(
    [config.sorac_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
config.substitutions.append(("%sorac", os.path.join(config.sorac_tools_dir, "sorac")))
config.substitutions.append(("%runtime_include", os.path.join(config.sorac_src_root, "runtime/include")))
config.substitutions.append(("%runtime_lib", os.path.join(config.sorac_lib_dir, "libsora_rt.a")))
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%examples", os.path.join(config.sorac_src_root, "examples")))
