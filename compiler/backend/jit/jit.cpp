/* jit.cpp - the in-process Clang/LLVM 14 JIT (aecc_jit.so): C99 in memory through clang's driver, CompilerInstance and EmitLLVMOnlyAction into an ORC LLJIT. */
#include "jit.h"

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticIDs.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/Basic/Version.h>
#include <clang/CodeGen/BackendUtil.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/FrontendActions.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/Frontend/Utils.h>
#include <clang/Lex/PreprocessorOptions.h>

#include <llvm/ADT/StringSet.h>
#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/Bitcode/BitcodeWriter.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/VirtualFileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

/* Where this LLVM lives; jit.mk passes the values of its llvm-config. */
#ifndef AECC_JIT_CLANG
#define AECC_JIT_CLANG "/usr/lib/llvm-14/bin/clang"
#endif
#ifndef AECC_JIT_LIBOMP
#define AECC_JIT_LIBOMP "/usr/lib/llvm-14/lib/libomp.so"
#endif
/* The math library: the process has it only when the program uses it, and
 * this plugin's own copy (libstdc++ needs it) is loaded RTLD_LOCAL. */
#ifndef AECC_JIT_LIBM
#define AECC_JIT_LIBM "libm.so.6"
#endif

namespace {

/* How a unit was compiled: what optimizes its IR later (clang's own -O
 * pipeline, EmitBackendOutput, run by the JIT on its compile threads). */
struct UnitOptions {
	std::shared_ptr<clang::CompilerInvocation> inv;
	clang::CodeGenOptions codegen; /* the invocation's, with the LLVM passes on */
};

} /* namespace */

/* One compiled program: the JIT owns the code, the data and the modules. */
struct aecc_jit {
	std::unique_ptr<llvm::orc::LLJIT> jit;
	llvm::StringMap<void *> symbols; /* the units' external definitions */
	llvm::StringMap<std::shared_ptr<UnitOptions>> unit_opts; /* by module identifier, while compiling */
	std::mutex log_lock;
	std::string log; /* errors ORC and LLVM report while they compile */
	unsigned llvm_errors = 0;
};

namespace {

using Clock = std::chrono::steady_clock;

thread_local double last_frontend, last_backend;

double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

/* The precompiled prefix: what the generated kernels include before their
 * first line of code, in an order that makes no difference to them. It lives
 * at a fixed virtual path so that a cached PCH is valid from any directory. */
const char kPrefixPath[] = "/aecc-jit-virtual/aecc_jit_prefix.h";
const char kPrefixText[] =
	"/* aecc_jit_prefix.h - the headers the generated kernels start with, precompiled. */\n"
	"#include <stddef.h>\n"
	"#include <stdint.h>\n"
	"#include <math.h>\n"
	"#include <string.h>\n"
	"#include <simde/x86/avx512.h>\n"
	"#ifdef _OPENMP\n"
	"#include <omp.h>\n"
	"#endif\n";
const char *const kPrefixHeaders[] = {"stddef.h", "stdint.h", "math.h", "string.h", "simde/x86/avx512.h", "omp.h"};
const char kPrefixKey[] = "simde/x86/avx512.h";
/* Bump when the way the PCH is built or keyed changes. */
const char kPchFormat[] = "aecc-jit-pch-1";

/* The native target, its asm printer and parser, registered once: before the
 * first frontend action, since without a registered target clang's backend
 * runs O3 with no target information and vectorizes nothing. */
void init_llvm()
{
	static std::once_flag once;
	std::call_once(once, [] {
		llvm::InitializeNativeTarget();
		llvm::InitializeNativeTargetAsmPrinter();
		llvm::InitializeNativeTargetAsmParser();
	});
}

/* Whether environment variable NAME is set to VALUE. */
bool env_is(const char *name, const char *value)
{
	const char *s = std::getenv(name);
	return s && std::strcmp(s, value) == 0;
}

/* The optimization level: AECC_JIT_OPT=1 or 2, else 3 (the reference's -O3). */
int opt_level()
{
	const char *s = std::getenv("AECC_JIT_OPT");
	return s && (!std::strcmp(s, "1") || !std::strcmp(s, "2")) ? *s - '0' : 3;
}

/* Threads for machine code generation: AECC_JIT_THREADS, else the cores, at most 4. */
unsigned codegen_threads()
{
	if (const char *s = std::getenv("AECC_JIT_THREADS")) {
		long n = std::strtol(s, nullptr, 10);
		if (n >= 1 && n <= 64)
			return (unsigned)n;
	}
	unsigned n = std::thread::hardware_concurrency();
	return n < 1 ? 1 : n > 4 ? 4 : n;
}

/* A diagnostic printer into a string that also tells apart the errors
 * before lexing (driver, frontend, AST file: a bad PCH) from the unit's own. */
class Printer : public clang::TextDiagnosticPrinter {
public:
	Printer(llvm::raw_ostream &os, clang::DiagnosticOptions *opts) : TextDiagnosticPrinter(os, opts) {}
	void HandleDiagnostic(clang::DiagnosticsEngine::Level level, const clang::Diagnostic &info) override
	{
		if (level >= clang::DiagnosticsEngine::Error) {
			if (info.getID() < clang::diag::DIAG_START_LEX)
				early_errors++;
			else
				source_errors++;
		}
		TextDiagnosticPrinter::HandleDiagnostic(level, info);
	}
	void reset()
	{
		clear();
		early_errors = source_errors = 0;
	}
	/* Errors that only a precompiled header can explain. */
	bool pch_trouble() const { return early_errors > 0 && source_errors == 0; }
	unsigned early_errors = 0, source_errors = 0;
};

/* Everything one aecc_jit_compile needs: its arguments, files and messages. */
struct Session {
	std::vector<std::string> base_args; /* the driver command line before the input */
	llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> vfs;
	llvm::IntrusiveRefCntPtr<clang::DiagnosticOptions> diag_opts;
	std::string diag_text;
	llvm::raw_string_ostream diag_os{diag_text};
	std::unique_ptr<Printer> printer;
	const aecc_jit_file *headers = nullptr;
	int n_headers = 0;

	Session()
	{
		diag_opts = new clang::DiagnosticOptions();
		diag_opts->ShowColors = false;
		printer = std::make_unique<Printer>(diag_os, diag_opts.get());
	}

	/* The -cc1 invocation the driver makes of base_args + `-x LANG INPUT`
	 * (resource dir, system include paths, -target-cpu and -target-feature for
	 * -march=native, ...); its arguments go to *cc1 when not NULL. */
	std::shared_ptr<clang::CompilerInvocation> invocation(const char *lang, const std::string &input,
	                                                      std::vector<std::string> *cc1)
	{
		std::vector<const char *> argv;
		for (const std::string &a : base_args)
			argv.push_back(a.c_str());
		argv.push_back("-x");
		argv.push_back(lang);
		argv.push_back(input.c_str());
		llvm::IntrusiveRefCntPtr<clang::DiagnosticsEngine> diags(new clang::DiagnosticsEngine(
			new clang::DiagnosticIDs(), diag_opts, printer.get(), /*ShouldOwnClient=*/false));
		std::unique_ptr<clang::CompilerInvocation> inv =
			clang::createInvocationFromCommandLine(argv, diags, vfs, /*ShouldRecoverOnErrors=*/false, cc1);
		if (!inv)
			return nullptr;
		/* The driver asks cc1 to leak its trees at exit; a library must free them. */
		inv->getFrontendOpts().DisableFree = false;
		inv->getCodeGenOpts().DisableFree = false;
		/* -mllvm options are process-wide cl::opts; cc1_main parses them, we do not. */
		inv->getFrontendOpts().LLVMArgs.clear();
		return std::shared_ptr<clang::CompilerInvocation>(std::move(inv));
	}

	/* Run ACT on INV; diagnostics (and clang's "N errors generated.") go to diag_text. */
	bool run(std::shared_ptr<clang::CompilerInvocation> inv, clang::FrontendAction &act)
	{
		clang::CompilerInstance ci;
		ci.setInvocation(std::move(inv));
		ci.createDiagnostics(printer.get(), /*ShouldOwnClient=*/false);
		ci.setVerboseOutputStream(diag_os);
		ci.createFileManager(vfs);
		bool ok = ci.ExecuteAction(act);
		diag_os.flush();
		return ok && !printer->getNumErrors();
	}
};

/* ---- the precompiled header ---- */

/* The cache directory: $AECC_CACHE, $XDG_CACHE_HOME/aecc or $HOME/.cache/aecc; "" if none. */
std::string cache_dir()
{
	const char *s;
	if ((s = std::getenv("AECC_CACHE")) && *s)
		return s;
	if ((s = std::getenv("XDG_CACHE_HOME")) && *s)
		return std::string(s) + "/aecc";
	if ((s = std::getenv("HOME")) && *s)
		return std::string(s) + "/.cache/aecc";
	return "";
}

/* Whether a line is blank or a whole comment (the generated files' kinds). */
bool is_blank_or_comment(llvm::StringRef line)
{
	line = line.trim();
	return line.empty() || line.startswith("//") || (line.startswith("/*") && line.endswith("*/"));
}

/* The header name of an `#include <...>` or `#include "..."` line, its kind in *quoted. */
bool include_of(llvm::StringRef line, llvm::StringRef *name, bool *quoted)
{
	line = line.trim();
	if (!line.consume_front("#"))
		return false;
	line = line.ltrim();
	if (!line.consume_front("include"))
		return false;
	line = line.ltrim();
	if (line.empty() || (line[0] != '<' && line[0] != '"'))
		return false;
	char close = line[0] == '<' ? '>' : '"';
	size_t end = line.find(close, 1);
	if (end == llvm::StringRef::npos)
		return false;
	*quoted = close == '"';
	*name = line.slice(1, end);
	return true;
}

bool is_prefix_header(llvm::StringRef name)
{
	for (const char *h : kPrefixHeaders)
		if (name == h)
			return true;
	return false;
}

/* Whether an in-memory header is inert for the prefix: it only includes
 * <stddef.h> / <stdint.h>, and defines only its own guard and macros that
 * start like it (FASHION_AE_H: FASHION_AE_...), which the system headers and
 * SIMDe cannot mention. */
bool header_is_inert(llvm::StringRef text)
{
	std::string own;
	llvm::SmallVector<llvm::StringRef, 64> lines;
	text.split(lines, '\n');
	for (llvm::StringRef line : lines) {
		llvm::StringRef t = line.trim();
		if (!t.startswith("#"))
			continue;
		t = t.drop_front().ltrim();
		llvm::StringRef name;
		bool quoted;
		if (include_of(line, &name, &quoted)) {
			if (quoted || (name != "stddef.h" && name != "stdint.h"))
				return false;
		} else if (t.consume_front("ifndef")) {
			if (own.empty()) {
				own = t.trim().str();
				if (!llvm::StringRef(own).endswith("_H") || own.size() < 3)
					return false;
				own = own.substr(0, own.size() - 1); /* FASHION_AE_ */
			}
		} else if (t.consume_front("define")) {
			if (own.empty() || !t.ltrim().startswith(own))
				return false;
		} else if (!t.startswith("endif") && !t.startswith("if") && !t.startswith("else") && !t.startswith("elif")) {
			return false; /* #undef, #pragma, ... */
		}
	}
	return true;
}

/* Whether the prefix can replace the start of a unit: up to its last
 * #include, the unit has only blank lines, comments, #ifdef _OPENMP / #endif
 * and includes of the prefix's headers or of inert in-memory headers, and it
 * includes SIMDe. Then including the prefix first changes nothing. */
bool unit_fits_prefix(const char *text, const aecc_jit_file *headers, int n_headers)
{
	llvm::SmallVector<llvm::StringRef, 64> lines;
	llvm::StringRef(text).split(lines, '\n', 200);
	bool simde = false;
	for (llvm::StringRef line : lines) {
		if (is_blank_or_comment(line))
			continue;
		llvm::StringRef t = line.trim(), name;
		bool quoted;
		if (include_of(line, &name, &quoted)) {
			if (!quoted) {
				if (!is_prefix_header(name))
					return false;
				simde |= name == kPrefixKey;
				continue;
			}
			int h = 0;
			while (h < n_headers && name != headers[h].name)
				h++;
			if (h == n_headers || !header_is_inert(headers[h].text))
				return false;
			continue;
		}
		if (t == "#ifdef _OPENMP" || t == "#endif")
			continue;
		break; /* the first line of code: the preamble ends here */
	}
	return simde;
}

/* Whether a regular file exists. */
bool file_exists(const std::string &path)
{
	return llvm::sys::fs::is_regular_file(path);
}

/* Build the PCH for the session's flags into PATH: into a unique temporary
 * file next to it, renamed over PATH once complete, so that readers never see
 * half a file and two builders at once both leave a whole one. */
bool build_pch(Session &s, const std::string &path)
{
	if (llvm::sys::fs::create_directories(llvm::sys::path::parent_path(path)))
		return false;
	llvm::SmallString<256> tmp;
	if (llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%%%", tmp))
		return false;
	std::shared_ptr<clang::CompilerInvocation> inv = s.invocation("c-header", kPrefixPath, nullptr);
	bool ok = false;
	if (inv) {
		inv->getFrontendOpts().OutputFile = std::string(tmp.str());
		clang::GeneratePCHAction act;
		ok = s.run(inv, act);
	}
	if (ok)
		ok = !llvm::sys::fs::rename(tmp, path);
	if (!ok)
		llvm::sys::fs::remove(tmp);
	s.printer->reset();
	return ok;
}

/* The cache file for the session's flags: the key hashes clang's version
 * and the whole -cc1 command line of the prefix (target CPU and features,
 * -O, -fopenmp, -D, -I, resource dir, ...) but not the working directory. */
std::string pch_path(Session &s)
{
	std::string dir = cache_dir();
	if (dir.empty())
		return "";
	std::vector<std::string> cc1;
	if (!s.invocation("c-header", kPrefixPath, &cc1)) {
		s.printer->reset();
		return "";
	}
	std::string key = std::string(kPchFormat) + '\0' + clang::getClangFullVersion() + '\0' + kPrefixText;
	for (const std::string &a : cc1)
		if (!llvm::StringRef(a).startswith("-fdebug-compilation-dir") &&
		    !llvm::StringRef(a).startswith("-fcoverage-compilation-dir"))
			key += '\0' + a;
	char name[64];
	std::snprintf(name, sizeof name, "/jit-pch-%016llx.pch", (unsigned long long)llvm::xxHash64(key));
	return dir + name;
}

/* ---- compiling ---- */

/* A unit, or a part of one: a module with its own context. */
struct Unit {
	std::unique_ptr<llvm::LLVMContext> ctx;
	std::unique_ptr<llvm::Module> mod;
	std::shared_ptr<UnitOptions> opts;
	unsigned cost = 0; /* its estimated work, for the order of compilation */
};

/* Compile unit U to IR with PCH (may be ""): false on errors, in s.diag_text.
 * The IR is not optimized yet (-disable-llvm-passes): the unit is split
 * first and its parts optimized in parallel. */
bool compile_unit(Session &s, const aecc_jit_file &u, const std::string &pch, Unit *out)
{
	std::shared_ptr<clang::CompilerInvocation> inv = s.invocation("c", u.name, nullptr);
	if (!inv)
		return false;
	if (!pch.empty())
		inv->getPreprocessorOpts().ImplicitPCHInclude = pch;
	out->opts = std::make_shared<UnitOptions>();
	out->opts->inv = inv;
	out->opts->codegen = inv->getCodeGenOpts();
	inv->getCodeGenOpts().DisableLLVMPasses = true;
	out->ctx = std::make_unique<llvm::LLVMContext>();
	clang::EmitLLVMOnlyAction act(out->ctx.get());
	if (!s.run(inv, act))
		return false;
	out->mod = act.takeModule();
	return out->mod != nullptr;
}

/* The in-memory files over the real file system: units and headers by their
 * names (relative ones in the working directory, where the units' quoted
 * includes look first), and the prefix at its virtual path. */
llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> make_vfs(const aecc_jit_file *units, int n_units,
                                                          const aecc_jit_file *headers, int n_headers)
{
	llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> real = llvm::vfs::getRealFileSystem();
	llvm::IntrusiveRefCntPtr<llvm::vfs::InMemoryFileSystem> mem(new llvm::vfs::InMemoryFileSystem());
	llvm::ErrorOr<std::string> cwd = real->getCurrentWorkingDirectory();
	mem->setCurrentWorkingDirectory(cwd ? *cwd : "/");
	auto add = [&](const char *name, const char *text) {
		mem->addFile(name, 0, llvm::MemoryBuffer::getMemBufferCopy(text, name));
	};
	for (int i = 0; i < n_headers; i++)
		add(headers[i].name, headers[i].text);
	for (int i = 0; i < n_units; i++)
		add(units[i].name, units[i].text);
	add(kPrefixPath, kPrefixText);
	llvm::IntrusiveRefCntPtr<llvm::vfs::OverlayFileSystem> overlay(new llvm::vfs::OverlayFileSystem(real));
	overlay->pushOverlay(mem);
	return overlay;
}

/* The driver's command line: the flags of the reference build
 * `clang -std=c99 -O3 -march=native -ffp-contract=off -fPIC` (-O<opt>). */
std::vector<std::string> driver_args(const char *const *include_dirs, int n_include,
                                     const char *const *defines, int n_defines, int openmp, int opt)
{
	std::vector<std::string> a = {AECC_JIT_CLANG, "-std=c99", "-O" + std::to_string(opt), "-march=native",
	                              "-ffp-contract=off", "-fPIC", "-Werror=implicit-function-declaration",
	                              "-fno-color-diagnostics"};
	if (openmp)
		a.push_back("-fopenmp");
	for (int i = 0; i < n_include; i++) {
		/* Absolute, so that the PCH key and the PCH do not depend on the working directory. */
		llvm::SmallString<256> dir(include_dirs[i]);
		llvm::sys::fs::make_absolute(dir);
		a.push_back("-I" + std::string(dir.str()));
	}
	for (int i = 0; i < n_defines; i++)
		a.push_back(std::string("-D") + defines[i]);
	return a;
}

/* ---- splitting a unit for parallel optimization and code generation ---- */

/* Units under this many (unoptimized) IR instructions stay whole. */
const unsigned kSplitMinInstructions = 2000;
/* Static functions larger than this get one copy, in one part. */
const unsigned kSharedMaxInstructions = 2500;

unsigned instruction_count(const llvm::Function &f)
{
	unsigned n = 0;
	for (const llvm::BasicBlock &b : f)
		n += (unsigned)b.size();
	return n;
}

/* The globals that V (an operand, a constant) refers to, into *out. */
void collect_refs(const llvm::Value *v, llvm::SmallPtrSetImpl<const llvm::Constant *> &seen,
                  llvm::SmallVectorImpl<llvm::GlobalValue *> *out)
{
	if (const auto *g = llvm::dyn_cast<llvm::GlobalValue>(v)) {
		out->push_back(const_cast<llvm::GlobalValue *>(g));
		return;
	}
	if (const auto *c = llvm::dyn_cast<llvm::Constant>(v))
		if (seen.insert(c).second)
			for (const llvm::Use &op : c->operands())
				collect_refs(op.get(), seen, out);
}

/* The globals that definition G refers to. */
void refs_of(const llvm::GlobalValue &g, llvm::SmallVectorImpl<llvm::GlobalValue *> *out)
{
	llvm::SmallPtrSet<const llvm::Constant *, 32> seen;
	if (const auto *f = llvm::dyn_cast<llvm::Function>(&g)) {
		for (const llvm::Use &op : f->operands()) /* personality, prefix, prologue */
			collect_refs(op.get(), seen, out);
		for (const llvm::BasicBlock &b : *f)
			for (const llvm::Instruction &i : b)
				for (const llvm::Use &op : i.operands())
					collect_refs(op.get(), seen, out);
	} else if (const auto *v = llvm::dyn_cast<llvm::GlobalVariable>(&g)) {
		if (v->hasInitializer())
			collect_refs(v->getInitializer(), seen, out);
	}
}

/* Whether every use of F calls it (no address taken). */
bool only_called(const llvm::Function &f)
{
	for (const llvm::Use &u : f.uses()) {
		const auto *call = llvm::dyn_cast<llvm::CallBase>(u.getUser());
		if (!call || !call->isCallee(&u))
			return false;
	}
	return true;
}

/* Where the definitions of a unit go. A definition is either owned by one
 * part (external functions and variables; static variables whose address
 * counts; static functions whose address is taken, such as OpenMP's outlined
 * regions, or that are large) or shared: a small static function, a
 * constant whose address does not count, an available_externally copy of a
 * library's inline function, copied into every part that uses it, so that
 * inlining and constant folding see what they see in the whole module. */
struct Plan {
	unsigned parts = 1;
	llvm::StringMap<unsigned> owner;
	llvm::StringSet<> shared;
	std::vector<unsigned> load; /* each part's cost */
};

/* The cost of F with the shared functions it calls inlined, roughly the
 * optimizer's and code generator's work: instructions, memoized. */
unsigned inlined_cost(const llvm::Function &f, const Plan &plan, llvm::DenseMap<const llvm::Function *, unsigned> &memo)
{
	auto it = memo.find(&f);
	if (it != memo.end())
		return it->second;
	memo[&f] = 0; /* recursion */
	unsigned cost = instruction_count(f);
	for (const llvm::BasicBlock &b : f)
		for (const llvm::Instruction &i : b)
			if (const auto *call = llvm::dyn_cast<llvm::CallBase>(&i))
				if (const llvm::Function *g = call->getCalledFunction())
					if (!g->isDeclaration() && plan.shared.count(g->getName()))
						cost += inlined_cost(*g, plan, memo);
	memo[&f] = cost;
	return cost;
}

/* Deal the owned functions of M out to up to PARTS parts, largest first,
 * each to the part with the least work; variables to part 0. */
Plan make_plan(llvm::Module &m, unsigned parts)
{
	Plan plan;
	std::vector<llvm::Function *> owned;
	unsigned total = 0;
	for (llvm::Function &f : m) {
		if (f.isDeclaration())
			continue;
		total += instruction_count(f);
		if (f.hasAvailableExternallyLinkage() ||
		    (f.hasLocalLinkage() && only_called(f) && instruction_count(f) <= kSharedMaxInstructions))
			plan.shared.insert(f.getName());
		else
			owned.push_back(&f);
	}
	for (llvm::GlobalVariable &v : m.globals()) {
		if (v.isDeclaration())
			continue;
		if (v.hasAvailableExternallyLinkage() || (v.hasLocalLinkage() && v.isConstant() && v.hasGlobalUnnamedAddr()))
			plan.shared.insert(v.getName());
		else
			plan.owner[v.getName()] = 0;
	}
	/* What a split would have to duplicate or move between parts: keep whole. */
	bool plain = m.alias_empty() && m.ifunc_empty() && m.getComdatSymbolTable().empty() &&
	             m.getModuleInlineAsm().empty();
	for (const llvm::GlobalVariable &g : m.globals())
		plain &= !g.hasAppendingLinkage() && !g.isThreadLocal();
	if (parts < 2 || owned.size() < 2 || total < kSplitMinInstructions || !plain) {
		plan = Plan();
		plan.load.push_back(total);
		return plan; /* whole: no owner, nothing shared */
	}
	llvm::DenseMap<const llvm::Function *, unsigned> memo;
	std::vector<std::pair<unsigned, llvm::Function *>> work;
	for (llvm::Function *f : owned)
		work.push_back({inlined_cost(*f, plan, memo), f});
	std::stable_sort(work.begin(), work.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
	std::vector<unsigned> load(std::min<size_t>(parts, work.size()), 0);
	for (const auto &w : work) {
		unsigned k = (unsigned)(std::min_element(load.begin(), load.end()) - load.begin());
		load[k] += w.first;
		plan.owner[w.second->getName()] = k;
	}
	plan.parts = (unsigned)load.size();
	plan.load = load;
	return plan;
}

/* Cut part K of the plan out of M (a whole copy of the unit): keep what K
 * owns and the shared definitions it reaches, declare the rest. The others'
 * definitions become declarations that are not dso_local, reached through
 * the GOT and PLT stubs that the JIT's linker places within reach. */
void cut_part(llvm::Module &m, const Plan &plan, unsigned k)
{
	llvm::SmallPtrSet<llvm::GlobalValue *, 32> keep;
	llvm::SmallVector<llvm::GlobalValue *, 64> todo;
	for (llvm::GlobalValue &g : m.global_values()) {
		auto it = plan.owner.find(g.getName());
		if (!g.isDeclaration() && it != plan.owner.end() && it->second == k)
			keep.insert(&g), todo.push_back(&g);
	}
	while (!todo.empty()) {
		llvm::GlobalValue *g = todo.pop_back_val();
		llvm::SmallVector<llvm::GlobalValue *, 16> refs;
		refs_of(*g, &refs);
		for (llvm::GlobalValue *r : refs)
			if (!r->isDeclaration() && plan.shared.count(r->getName()) && keep.insert(r).second)
				todo.push_back(r);
	}
	std::vector<llvm::GlobalValue *> dead;
	for (llvm::GlobalValue &g : m.global_values()) {
		if (g.isDeclaration() || keep.count(&g))
			continue;
		if (plan.shared.count(g.getName())) {
			dead.push_back(&g); /* a copy no kept code uses */
			continue;
		}
		if (auto *f = llvm::dyn_cast<llvm::Function>(&g))
			f->deleteBody();
		else if (auto *v = llvm::dyn_cast<llvm::GlobalVariable>(&g))
			v->setInitializer(nullptr);
		g.setLinkage(llvm::GlobalValue::ExternalLinkage);
		g.setVisibility(llvm::GlobalValue::DefaultVisibility);
		g.setDSOLocal(false);
	}
	/* Only dead copies can still use dead copies: drop, then erase. */
	for (llvm::GlobalValue *g : dead)
		g->dropAllReferences();
	for (llvm::GlobalValue *g : dead)
		g->eraseFromParent();
}

/* Split unit U (unoptimized) into the parts of its plan, each in its own
 * context, so that the JIT's compile threads optimize and compile them at
 * once. Owned statics become external, renamed apart per unit (suffix
 * .aecc.UNIT) so that no two units' statics meet, and stay dso_local where
 * they are defined, so their own part reaches them directly as before.
 * Appends the parts to *out. */
void split_unit(Unit u, int unit, unsigned parts, std::vector<Unit> *out)
{
	llvm::Module &m = *u.mod;
	std::string suffix = ".aecc." + std::to_string(unit);
	for (llvm::GlobalValue &g : m.global_values())
		if (!g.isDeclaration() && !g.hasName())
			g.setName("anon" + suffix);
	Plan plan = make_plan(m, parts);
	u.cost = plan.load[0];
	if (plan.parts < 2) {
		out->push_back(std::move(u));
		return;
	}
	for (llvm::GlobalValue &g : m.global_values())
		if (!g.isDeclaration() && g.hasLocalLinkage() && !plan.shared.count(g.getName())) {
			unsigned k = plan.owner.lookup(g.getName());
			plan.owner.erase(g.getName());
			g.setName(g.getName() + suffix);
			plan.owner[g.getName()] = k;
			g.setLinkage(llvm::GlobalValue::ExternalLinkage);
			g.setVisibility(llvm::GlobalValue::DefaultVisibility);
			g.setDSOLocal(true);
		}

	/* Parts 1.. start as copies through bitcode; part 0 is the module itself. */
	llvm::SmallVector<char, 0> bitcode;
	{
		llvm::raw_svector_ostream os(bitcode);
		llvm::WriteBitcodeToFile(m, os);
	}
	std::vector<Unit> split(plan.parts);
	for (unsigned k = 1; k < plan.parts; k++) {
		split[k].ctx = std::make_unique<llvm::LLVMContext>();
		llvm::Expected<std::unique_ptr<llvm::Module>> copy = llvm::parseBitcodeFile(
			llvm::MemoryBufferRef(llvm::StringRef(bitcode.data(), bitcode.size()), m.getModuleIdentifier()),
			*split[k].ctx);
		if (!copy) { /* cannot happen with bitcode just written: keep it whole */
			llvm::consumeError(copy.takeError());
			out->push_back(std::move(u));
			return;
		}
		split[k].mod = std::move(*copy);
		split[k].opts = u.opts;
	}
	split[0] = std::move(u);
	for (unsigned k = 0; k < plan.parts; k++) {
		split[k].cost = plan.load[k];
		cut_part(*split[k].mod, plan, k);
		split[k].mod->setModuleIdentifier(split[k].mod->getModuleIdentifier() + "#" + std::to_string(k));
		out->push_back(std::move(split[k]));
	}
}

/* ---- the JIT ---- */

/* Errors that LLVM reports through a context (the optimizer's, the code
 * generator's) go to the program's log instead of stderr and exit(). */
void on_llvm_diagnostic(const llvm::DiagnosticInfo &di, void *p)
{
	if (di.getSeverity() != llvm::DS_Error)
		return;
	aecc_jit *j = (aecc_jit *)p;
	std::string text;
	llvm::raw_string_ostream os(text);
	llvm::DiagnosticPrinterRawOStream printer(os);
	di.print(printer);
	os.flush();
	std::lock_guard<std::mutex> g(j->log_lock);
	j->log += "error: " + text + "\n";
	j->llvm_errors++;
}

/* Optimize M as clang would have (its -O pipeline, for the unit's target
 * and options), on the JIT's compile thread. */
llvm::Error optimize(const UnitOptions &o, llvm::Module &m)
{
	llvm::IntrusiveRefCntPtr<clang::DiagnosticOptions> diag_opts(new clang::DiagnosticOptions());
	diag_opts->ShowColors = false;
	std::string text;
	llvm::raw_string_ostream os(text);
	Printer printer(os, diag_opts.get());
	clang::DiagnosticsEngine diags(new clang::DiagnosticIDs(), diag_opts, &printer, /*ShouldOwnClient=*/false);
	const clang::CompilerInvocation &inv = *o.inv;
	clang::EmitBackendOutput(diags, inv.getHeaderSearchOpts(), o.codegen, inv.getTargetOpts(), *inv.getLangOpts(),
	                         m.getDataLayoutStr(), &m, clang::Backend_EmitNothing, nullptr);
	os.flush();
	if (printer.getNumErrors())
		return llvm::make_error<llvm::StringError>(text, llvm::inconvertibleErrorCode());
	return llvm::Error::success();
}

/* The JIT: host CPU and features, O3's code generator, PIC like the
 * reference, clang's optimizer on the units' parts before it; symbols from
 * libomp (for openmp), then the process, then libm. */
llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> make_jit(aecc_jit *j, int openmp, int opt, unsigned threads)
{
	llvm::Expected<llvm::orc::JITTargetMachineBuilder> jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
	if (!jtmb)
		return jtmb.takeError();
	/* clang's mapping of -O1, -O2, -O3 */
	jtmb->setCodeGenOptLevel(opt == 1   ? llvm::CodeGenOpt::Less
	                         : opt == 2 ? llvm::CodeGenOpt::Default
	                                    : llvm::CodeGenOpt::Aggressive);
	jtmb->setRelocationModel(llvm::Reloc::PIC_);
	jtmb->setCodeModel(llvm::CodeModel::Small);
	llvm::TargetOptions &to = jtmb->getOptions();
	to.AllowFPOpFusion = llvm::FPOpFusion::Strict; /* -ffp-contract=off */
	to.UseInitArray = true;
	llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> jit = llvm::orc::LLJITBuilder()
		.setJITTargetMachineBuilder(std::move(*jtmb))
		.setNumCompileThreads(threads > 1 ? threads : 0)
		.create();
	if (!jit)
		return jit.takeError();
	llvm::orc::LLJIT &J = **jit;
	/* The units' parts are optimized where they are compiled, in parallel. */
	J.getIRTransformLayer().setTransform([j](llvm::orc::ThreadSafeModule tsm, llvm::orc::MaterializationResponsibility &)
	                                             -> llvm::Expected<llvm::orc::ThreadSafeModule> {
		llvm::Error e = tsm.withModuleDo([j](llvm::Module &m) -> llvm::Error {
			auto it = j->unit_opts.find(m.getModuleIdentifier());
			return it == j->unit_opts.end() ? llvm::Error::success() : optimize(*it->second, m);
		});
		if (e)
			return e; /* moved (C++17 DR 1579) */
		return tsm;
	});
	J.getExecutionSession().setErrorReporter([j](llvm::Error e) {
		std::lock_guard<std::mutex> g(j->log_lock);
		j->log += llvm::toString(std::move(e)) + "\n";
	});
	char prefix = J.getDataLayout().getGlobalPrefix();
	llvm::orc::JITDylib &jd = J.getMainJITDylib();
	if (openmp) {
		auto omp = llvm::orc::DynamicLibrarySearchGenerator::Load(AECC_JIT_LIBOMP, prefix);
		if (!omp)
			return omp.takeError();
		jd.addGenerator(std::move(*omp));
	}
	auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(prefix);
	if (!process)
		return process.takeError();
	jd.addGenerator(std::move(*process));
	if (auto libm = llvm::orc::DynamicLibrarySearchGenerator::Load(AECC_JIT_LIBM, prefix))
		jd.addGenerator(std::move(*libm));
	else
		llvm::consumeError(libm.takeError());
	return jit;
}

/* The external definitions of M (the symbols its code defines): looking
 * them all up compiles everything. */
void defined_symbols(const llvm::Module &m, std::vector<std::string> *names)
{
	for (const llvm::GlobalValue &g : m.global_values())
		if (!g.isDeclaration() && !g.hasLocalLinkage() && !g.hasAvailableExternallyLinkage() &&
		    !g.hasAppendingLinkage() && g.hasName())
			names->push_back(g.getName().str());
}

char *dup_message(const std::string &s)
{
	char *p = (char *)std::malloc(s.size() + 1);
	if (p)
		std::memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

} /* namespace */

extern "C" {

AECC_JIT_API aecc_jit *aecc_jit_compile(const aecc_jit_file *units, int n_units,
                                        const aecc_jit_file *headers, int n_headers,
                                        const char *const *include_dirs, int n_include,
                                        const char *const *defines, int n_defines,
                                        int openmp, char **err)
{
	Clock::time_point t0 = Clock::now();
	last_frontend = last_backend = 0;
	if (err)
		*err = nullptr;
	auto fail = [&](const std::string &msg) -> aecc_jit * {
		if (err)
			*err = dup_message(msg.empty() ? "aecc_jit: compilation failed\n" : msg);
		return nullptr;
	};
	if (n_units < 1 || !units)
		return fail("aecc_jit: no units\n");
	init_llvm();

	Session s;
	int opt = opt_level();
	s.base_args = driver_args(include_dirs, n_include, defines, n_defines, openmp, opt);
	s.vfs = make_vfs(units, n_units, headers, n_headers);
	s.headers = headers;
	s.n_headers = n_headers;

	/* The precompiled prefix: found in the cache, or built into it. */
	bool use_pch = !env_is("AECC_JIT_PCH", "0");
	bool may_write = use_pch && !env_is("AECC_JIT_NO_CACHE", "1");
	std::string pch; /* its path once known, "" without */
	bool pch_ready = false, pch_rebuilt = false;

	std::vector<Unit> mods(n_units);
	for (int i = 0; i < n_units; i++) {
		std::string with;
		if (use_pch && unit_fits_prefix(units[i].text, headers, n_headers)) {
			if (pch.empty())
				pch = pch_path(s);
			if (!pch.empty() && !pch_ready) {
				pch_ready = file_exists(pch) || (may_write && (pch_rebuilt = build_pch(s, pch)));
				if (!pch_ready)
					use_pch = false;
			}
			if (pch_ready)
				with = pch;
		}
		bool ok = compile_unit(s, units[i], with, &mods[i]);
		if (!ok && !with.empty() && s.printer->pch_trouble()) {
			/* A stale or corrupt PCH: build it afresh (once) or do without. */
			s.printer->reset();
			s.diag_text.clear();
			if (may_write && !pch_rebuilt && (pch_rebuilt = build_pch(s, pch)))
				ok = compile_unit(s, units[i], pch, &mods[i]);
			if (!ok) {
				s.printer->reset();
				s.diag_text.clear();
				use_pch = pch_ready = false;
				ok = compile_unit(s, units[i], "", &mods[i]);
			}
		}
		if (!ok) {
			last_frontend = seconds_since(t0);
			return fail(s.diag_text);
		}
		s.printer->reset();
		s.diag_text.clear(); /* warnings of a unit that compiled */
	}
	last_frontend = seconds_since(t0);

	/* The backend: every unit (or part of one) a module of one JITDylib,
	 * optimized and compiled on the compile threads, the costliest first. */
	Clock::time_point t1 = Clock::now();
	unsigned threads = codegen_threads();
	std::vector<Unit> parts;
	std::vector<std::string> exported;
	for (int i = 0; i < n_units; i++) {
		defined_symbols(*mods[i].mod, &exported);
		split_unit(std::move(mods[i]), i, threads > 1 ? 2 * threads : 1, &parts);
	}
	std::stable_sort(parts.begin(), parts.end(), [](const Unit &a, const Unit &b) { return a.cost > b.cost; });
	std::unique_ptr<aecc_jit> j(new aecc_jit);
	llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> jit = make_jit(j.get(), openmp, opt, threads);
	if (!jit)
		return fail("aecc_jit: " + llvm::toString(jit.takeError()) + "\n");
	j->jit = std::move(*jit);
	llvm::orc::LLJIT &J = *j->jit;
	std::vector<llvm::orc::SymbolLookupSet> wanted;
	for (Unit &u : parts) {
		std::vector<std::string> names;
		defined_symbols(*u.mod, &names);
		wanted.emplace_back();
		for (const std::string &n : names)
			wanted.back().add(J.mangleAndIntern(n));
		u.ctx->setDiagnosticHandlerCallBack(on_llvm_diagnostic, j.get());
		j->unit_opts[u.mod->getModuleIdentifier()] = u.opts;
		if (llvm::Error e = J.addIRModule(llvm::orc::ThreadSafeModule(std::move(u.mod), std::move(u.ctx))))
			return fail("aecc_jit: " + llvm::toString(std::move(e)) + "\n");
	}
	/* One lookup per part, in order, so that the compile threads take the
	 * costliest parts first; then wait for all. */
	struct {
		std::mutex lock;
		std::condition_variable done;
		size_t left;
		llvm::orc::SymbolMap found;
		std::string errors;
	} wait;
	wait.left = wanted.size();
	for (llvm::orc::SymbolLookupSet &set : wanted)
		J.getExecutionSession().lookup(
			llvm::orc::LookupKind::Static, llvm::orc::makeJITDylibSearchOrder(&J.getMainJITDylib()), std::move(set),
			llvm::orc::SymbolState::Ready,
			[&wait](llvm::Expected<llvm::orc::SymbolMap> r) {
				std::lock_guard<std::mutex> g(wait.lock);
				if (r)
					wait.found.insert(r->begin(), r->end());
				else
					wait.errors += "aecc_jit: " + llvm::toString(r.takeError()) + "\n";
				if (--wait.left == 0)
					wait.done.notify_all();
			},
			llvm::orc::NoDependenciesToRegister);
	{
		std::unique_lock<std::mutex> g(wait.lock);
		wait.done.wait(g, [&wait] { return wait.left == 0; });
	}
	if (wait.errors.empty())
		if (llvm::Error e = J.initialize(J.getMainJITDylib()))
			wait.errors = "aecc_jit: " + llvm::toString(std::move(e)) + "\n";
	last_backend = seconds_since(t1);
	j->unit_opts.clear();
	if (!wait.errors.empty() || j->llvm_errors) {
		std::lock_guard<std::mutex> g(j->log_lock);
		return fail(j->log + wait.errors);
	}
	for (const std::string &n : exported) {
		auto it = wait.found.find(J.mangleAndIntern(n));
		if (it != wait.found.end())
			j->symbols[n] = (void *)(uintptr_t)it->second.getAddress();
	}
	return j.release();
}

AECC_JIT_API void *aecc_jit_lookup(aecc_jit *j, const char *symbol)
{
	if (!j || !symbol)
		return nullptr;
	return j->symbols.lookup(symbol);
}

AECC_JIT_API void aecc_jit_free(aecc_jit *j)
{
	if (!j)
		return;
	if (j->jit)
		llvm::consumeError(j->jit->deinitialize(j->jit->getMainJITDylib()));
	delete j;
}

AECC_JIT_API void aecc_jit_last_times(double *frontend, double *backend)
{
	if (frontend)
		*frontend = last_frontend;
	if (backend)
		*backend = last_backend;
}

} /* extern "C" */
