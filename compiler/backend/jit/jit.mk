# jit.mk - the optional in-process JIT plugin $(B)/lib/aecc/aecc_jit.so (Clang/LLVM 14), included by the Makefile.
# JIT_PLUGIN is its path when llvm-config-14 (or /usr/lib/llvm-14/bin/llvm-config),
# the clang headers and libclang-cpp are installed, and empty otherwise. Only
# the plugin links LLVM; aecc dlopen()s it. Works on its own too:
#   make -f compiler/backend/jit/jit.mk build/lib/aecc/aecc_jit.so

B ?= build
CXX ?= c++
JIT_CXXFLAGS ?= -O2 -g

JIT_LLVM_CONFIG := $(firstword $(shell command -v llvm-config-14 2>/dev/null) $(wildcard /usr/lib/llvm-14/bin/llvm-config))
ifneq ($(JIT_LLVM_CONFIG),)
JIT_LLVM_INC := $(shell $(JIT_LLVM_CONFIG) --includedir)
JIT_LLVM_LIB := $(shell $(JIT_LLVM_CONFIG) --libdir)
JIT_LLVM_BIN := $(shell $(JIT_LLVM_CONFIG) --bindir)
endif

ifneq ($(and $(wildcard $(JIT_LLVM_INC)/clang/Frontend/CompilerInstance.h),$(wildcard $(JIT_LLVM_LIB)/libclang-cpp.so)),)
JIT_PLUGIN = $(B)/lib/aecc/aecc_jit.so

# LLVM's headers as system headers (their warnings are not ours), its -D
# flags, C++17; this LLVM's clang (for its resource dir) and libomp built in.
JIT_CPPFLAGS := -isystem $(JIT_LLVM_INC) $(filter -D%,$(shell $(JIT_LLVM_CONFIG) --cxxflags)) -DAECC_JIT_BUILD \
	-DAECC_JIT_CLANG='"$(JIT_LLVM_BIN)/clang"' -DAECC_JIT_LIBOMP='"$(JIT_LLVM_LIB)/libomp.so"'
JIT_LDLIBS := -L$(JIT_LLVM_LIB) -Wl,-rpath,$(JIT_LLVM_LIB) -lclang-cpp $(shell $(JIT_LLVM_CONFIG) --link-shared --libs) -lpthread

$(JIT_PLUGIN): compiler/backend/jit/jit.cpp compiler/backend/jit/jit.h compiler/backend/jit/jit.mk
	@mkdir -p $(@D)
	$(CXX) $(JIT_CXXFLAGS) -std=c++17 -fno-exceptions -fvisibility=hidden -Wall -Wextra -Werror $(JIT_CPPFLAGS) \
		-shared -fPIC -Wl,--no-undefined -o $@ compiler/backend/jit/jit.cpp $(JIT_LDLIBS)
else
JIT_PLUGIN =
endif
