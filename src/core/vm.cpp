// The bytecode interpreter. See vm.h for the model and opcodes.h for the
// instruction set.
//
// Stack layout of a running function (stack-mode):
//   [callee] [local 0 = arg 0] ... [local n-1] [operand stack ...]
//            ^ frame.base
// Env-mode functions copy their arguments into a heap Env on entry and use
// the stack from frame.base for operands only.
//
// async-reset calls its body through a trampoline frame (a tiny proto with
// is_reset set). async-shift copies every frame above the nearest
// trampoline, and the values they own, into a Continuation; calling the
// continuation copies them back on top of a fresh trampoline.
#include "core/vm.h"

#include <gc/gc.h>
#include <gc/gc_mark.h>

#include <algorithm>
#include <cstdio>
#include <vector>
#include <cstdlib>
#include <cstring>

#include "core/compiler.h"
#include "core/embedded.h"
#include "core/opcodes.h"
#include "core/printer.h"
#include "core/proto.h"
#include "core/reader.h"
#include "core/runtime.h"
#include "core/source_file.h"
#include "lib/builtins.h"

namespace valk {

namespace {

// Every live VM (tests create several); the newest is current_vm().
std::vector<VM*>& all_vms() {
  static auto* v = new std::vector<VM*>;
  return *v;
}
GC_push_other_roots_proc g_prev_push = nullptr;

// Only the live part of the VM stacks is a root: slots above sp may hold
// stale pointers that must not keep garbage alive. The interpreter loop keeps
// its stack top in a register, so it stores sp before anything allocates.
void GC_CALLBACK push_vm_roots() {
  if (g_prev_push) g_prev_push();
  for (VM* vm : all_vms()) {
    if (vm->sp) GC_push_all(vm->stack, vm->stack + vm->sp);
    if (vm->nframes) GC_push_all(vm->frames, vm->frames + vm->nframes);
    GC_push_all(vm, vm + 1);
  }
}

struct Continuation {
  ObjHeader h;
  uint32_t nframes;
  uint32_t nvals;
  Frame* frames;  // bases relative to the segment start
  Value* vals;
};

Proto* make_internal_proto(std::initializer_list<uint32_t> code, uint16_t nparams, uint32_t nlocals) {
  auto* p = static_cast<Proto*>(gc_alloc(sizeof(Proto)));
  memset(p, 0, sizeof *p);
  p->h = {Type::Proto, 0, 0, 0};
  p->ncode = uint32_t(code.size());
  p->code = static_cast<uint32_t*>(GC_MALLOC_UNCOLLECTABLE(sizeof(uint32_t) * code.size()));
  std::copy(code.begin(), code.end(), p->code);
  p->consts = nullptr;
  p->nparams = nparams;
  p->nlocals = nlocals;
  p->maxstack = 4;
  p->name = kNil;
  p->formals = kNil;
  p->body = kNil;
  return p;
}

Value make_closure_of(Proto* p, Env* env) {
  auto* c = static_cast<Closure*>(GC_MALLOC_UNCOLLECTABLE(sizeof(Closure)));
  c->h = {Type::Closure, 0, 0, 0};
  c->proto = p;
  c->env = env;
  return obj_val(c);
}

Value g_trampoline = kNil;            // the async-reset delimiter
const uint32_t* g_trampoline_ret = nullptr;  // the instruction after its call
Value g_call_trampoline[8];                 // [CALL n, RETURN] for VM::call
Value g_job_tramp[2];                 // job trampolines for 0 and 1 arguments

// Inlined arithmetic: the symbols and the builtins they stand for.
struct Inline {
  Value sym;
  Value builtin;
};
Inline g_inline[OP_COUNT];
bool g_inline_redefined = false;
constexpr uint16_t kSymInlined = 1;  // Symbol::h.aux flag

Value call_builtin_of(Op o, VM& vm, Value* args, int argc = 2) {
  auto* b = reinterpret_cast<Builtin*>(g_inline[o].builtin);
  return b->fn(vm, args, argc);
}

// Upstream's plist shorthand for globals: `config:port` is
// (plist/get config :port) when `config` is a bound list.
Value global_shorthand(const Symbol* s) {
  std::string_view n = s->view();
  size_t colon = n.find(':', 1);
  if (colon == std::string_view::npos || colon + 1 >= n.size()) return kUnbound;
  Value pl = as_symbol(intern(n.substr(0, colon)))->global;
  if (!is_list(pl)) return kUnbound;
  Value v = plist_lookup(pl, intern(n.substr(colon)));
  return v == kUnbound ? kNil : v;
}

}  // namespace

VM& current_vm() { return *rt().vm; }

VM::VM() {
  static bool gc_ready = false;
  if (!gc_ready) {
    GC_INIT();
    // Start with a 32 MB heap: programs that build large live structures
    // then collect far less often while the heap grows, and untouched pages
    // cost no resident memory. GC_INITIAL_HEAP_SIZE overrides it.
    if (!getenv("GC_INITIAL_HEAP_SIZE") && GC_get_heap_size() < (32u << 20))
      GC_expand_hp((32u << 20) - GC_get_heap_size());
    g_prev_push = GC_get_push_other_roots();
    GC_set_push_other_roots(push_vm_roots);
    gc_ready = true;
  }
  rt().vm = this;
  all_vms().push_back(this);
  stack_cap = 1 << 16;
  stack = static_cast<Value*>(malloc(stack_cap * sizeof(Value)));
  frames_cap = 1 << 10;
  frames = static_cast<Frame*>(malloc(frames_cap * sizeof(Frame)));
  max_depth = 5'000'000;
  if (const char* d = getenv("VALK_MAX_DEPTH")) {
    long long v = atoll(d);
    if (v > 0) max_depth = size_t(v);
  }

  if (g_trampoline == kNil) {
    // (trampoline thunk ctx): the reset runs thunk, then makes ctx (the
    // request context current at the reset) current again, also when a
    // shift inside left the body early (src/aio/context.h).
    Proto* t = make_internal_proto({OP_LOCAL, 0, OP_CALL, 0, OP_CTXSET, 1, OP_RETURN}, 2, 2);
    t->is_reset = 1;
    g_trampoline = make_closure_of(t, nullptr);
    g_trampoline_ret = t->code + 4;
    for (uint32_t n = 0; n < 8; ++n)
      g_call_trampoline[n] = make_closure_of(make_internal_proto({OP_CALL, n, OP_RETURN}, 0, 0), nullptr);
    Proto* j0 = make_internal_proto({OP_LOCAL, 0, OP_CALL, 0, OP_JOBDONE, 1, OP_RETURN}, 2, 2);
    Proto* j1 = make_internal_proto({OP_LOCAL, 0, OP_LOCAL, 1, OP_CALL, 1, OP_JOBDONE, 2, OP_RETURN}, 3, 3);
    j0->is_reset = j1->is_reset = 1;
    g_job_tramp[0] = make_closure_of(j0, nullptr);
    g_job_tramp[1] = make_closure_of(j1, nullptr);
  }

  load_library();
}

// The builtins and the standard library written in Valkyria, defined anew
// (a new VM, or a fresh runtime: reset_runtime).
void VM::load_library() {
  open_all(*this);

  struct {
    Op op;
    const char* name;
  } inl[] = {{OP_ADD, "+"}, {OP_SUB, "-"}, {OP_MUL, "*"}, {OP_LT, "<"},
             {OP_GT, ">"},  {OP_LE, "<="}, {OP_GE, ">="}, {OP_EQ, "=="},
             {OP_HEAD, "head"}, {OP_TAIL, "tail"}, {OP_ISNIL, "nil?"}};
  for (auto& i : inl) {
    Value s = intern(i.name);
    g_inline[i.op] = {s, as_symbol(s)->global};
    as_obj(s)->aux |= kSymInlined;
  }
  g_inline_redefined = false;

  for (const EmbeddedFile* f = kEmbeddedFiles; f->name; ++f) {
    if (strcmp(f->name, "prelude.valk") != 0) continue;
    Value r = eval_source(f->text, intern_filename(std::string("<lib>/") + f->name));
    if (is_error(r)) fprintf(stderr, "valk: error in built-in %s: %s\n", f->name,
                             display_string(r).c_str());
  }
  for (const EmbeddedFile* f = kEmbeddedFiles; f->name; ++f) {
    if (strcmp(f->name, "prelude.valk") == 0) continue;
    Value r = eval_source(f->text, intern_filename(std::string("<lib>/") + f->name));
    if (is_error(r)) fprintf(stderr, "valk: error in built-in %s: %s\n", f->name,
                             display_string(r).c_str());
  }
}

VM::~VM() {
  auto& v = all_vms();
  v.erase(std::find(v.begin(), v.end(), this));
  if (rt().vm == this) rt().vm = v.empty() ? nullptr : v.back();
  free(stack);
  free(frames);
}

void VM::grow_stack(size_t need) {
  size_t cap = stack_cap;
  while (cap < need) cap *= 2;
  auto* s = static_cast<Value*>(realloc(stack, cap * sizeof(Value)));
  if (!s) {
    fprintf(stderr, "valk: out of memory growing the stack\n");
    abort();
  }
  stack = s;
  stack_cap = cap;
}

void VM::grow_frames() {
  size_t cap = frames_cap * 2;
  auto* f = static_cast<Frame*>(realloc(frames, cap * sizeof(Frame)));
  if (!f) {
    fprintf(stderr, "valk: out of memory growing the frame stack\n");
    abort();
  }
  frames = f;
  frames_cap = cap;
}

Value VM::tail_call(Value fn, Value arglist) {
  pending_fn = fn;
  pending_args = arglist;
  has_pending = true;  // (fn may be nil: calling it is the program's error)
  return kUnbound;
}

SrcLoc VM::current_loc() const {
  // An error raised inside the built-in library is reported where the
  // program called into it: skip frames of <lib>/ files when there are others.
  bool skip_lib = false;
  for (size_t i = nframes; i-- > 0;) {
    const char* f = frames[i].closure->proto->file;
    if (f && strncmp(f, "<lib>/", 6) != 0) {
      skip_lib = true;
      break;
    }
  }
  for (size_t i = nframes; i-- > 0;) {
    const Proto* p = frames[i].closure->proto;
    if (p->file && !(skip_lib && strncmp(p->file, "<lib>/", 6) == 0)) {
      // frames below the top point past their CALL; step back into it.
      const uint32_t* pc = frames[i].pc;
      if (pc > p->code) --pc;
      return proto_loc(p, pc);
    }
  }
  return {nullptr, 0, 0};
}

void (*VM::job_done_hook)(VM&, Value, Value) = nullptr;
Value VM::job_trampoline(int nargs) { return g_job_tramp[nargs ? 1 : 0]; }

bool VM::in_reset() const {
  for (size_t i = nframes; i-- > exec_base;)
    if (frames[i].closure->proto->is_reset) return true;
  return false;
}

void VM::locate(Value err) {
  if (is_error(err) && !as_error(err)->loc.file) as_error(err)->loc = current_loc();
}

Value VM::call(Value fn, const Value* args, int argc) {
  if (argc < 0) argc = 0;
  if (argc >= 8) {  // rare: go through apply with a list
    ListBuilder b;
    for (int i = 0; i < argc; ++i) b.push(args[i]);
    Value a[2] = {fn, b.result()};
    return call(as_symbol(intern("apply"))->global, a, 2);
  }
  size_t need = sp + size_t(argc) + 16;
  if (need > stack_cap) grow_stack(need);
  if (nframes + 1 >= frames_cap) grow_frames();
  size_t s = sp;
  stack[s] = g_call_trampoline[argc];
  stack[s + 1] = fn;
  for (int i = 0; i < argc; ++i) stack[s + 2 + i] = args[i];
  sp = s + 2 + size_t(argc);
  size_t stop = nframes;
  frames[nframes++] = {as_closure(g_call_trampoline[argc])->proto->code,
                       as_closure(g_call_trampoline[argc]), nullptr, uint32_t(s + 1), 0};
  Value r = execute(stop);
  sp = s;
  return r;
}

Value VM::eval_form(Value form) {
  Value thunk = compile_toplevel(*this, form, nullptr, nullptr);
  if (is_error(thunk)) return thunk;
  return call(thunk, nullptr, 0);
}

Value VM::eval_source(std::string_view src, const char* file, bool is_file) {
  LocMap locs;
  Reader reader(src, file, &locs, is_file);
  Value last = kNil;
  while (!reader.at_end()) {
    SrcLoc at = reader.here();
    Value form = reader.read();
    if (is_error(form)) return form;
    Value thunk = compile_toplevel(*this, form, &locs, file, at);
    if (is_error(thunk)) return thunk;
    last = call(thunk, nullptr, 0);
    if (is_error(last)) return last;
  }
  return last;
}

Value VM::run_file(const std::string& path) {
  std::string src, err;
  if (!read_source_file(path, src, err)) return make_error(err);
  std::string saved = current_file;
  current_file = path;
  Value r = eval_source(src, intern_filename(path), true);
  current_file = saved;
  return r;
}

// ---------------------------------------------------------------------------
// The interpreter loop.
// ---------------------------------------------------------------------------

Value VM::execute(size_t stop_depth) {
  static void* const dispatch[] = {
#define X(name, n) &&L_##name,
      VALK_OPCODES(X)
#undef X
  };

  Frame* fr;
  const uint32_t* pc;
  Value* base;
  Value* top;  // first free operand slot
  const Value* K;

  // Call state shared by the call paths.
  size_t f = 0;  // index of the callee slot
  int n = 0;     // argument count
  bool tail = false;
  Value result = kNil;
  Value builtin_result = kNil;
  Op slow_op = OP_ADD;  // the inlined operation taking its slow path

#define LOAD_FRAME()                                      \
  do {                                                    \
    fr = &frames[nframes - 1];                            \
    pc = fr->pc;                                          \
    base = stack + fr->base;                              \
    K = fr->closure->proto->consts;                       \
  } while (0)
#define SAVE()                  \
  do {                          \
    fr->pc = pc;                \
    sp = size_t(top - stack);   \
  } while (0)
#define NEXT goto* dispatch[*pc++]
#ifdef VALK_STEP_LIMIT  // code only jumps forward: counting calls bounds a run
#define COUNT_STEP(callee, is_tail)                    \
  if (step_limit && ++steps > step_limit) {            \
    f = size_t((callee) - stack);                      \
    tail = is_tail;                                    \
    goto step_limit_hit;                               \
  }
#else
#define COUNT_STEP(callee, is_tail)
#endif
// Ctrl-C at the REPL (g_interrupt): one load and an untaken branch per call.
#define CHECK_INTERRUPT(callee, is_tail)      \
  if (__builtin_expect(g_interrupt != 0, 0)) { \
    f = size_t((callee) - stack);             \
    tail = is_tail;                           \
    goto interrupted;                         \
  }

  size_t saved_exec_base = exec_base;
  exec_base = stop_depth;
  LOAD_FRAME();
  top = stack + sp;
  NEXT;

L_CONST:
  *top++ = K[*pc++];
  NEXT;
L_NIL:
  *top++ = kNil;
  NEXT;
L_INT:
  *top++ = make_fix(int32_t(*pc++));
  NEXT;
L_LOCAL:
  *top++ = base[*pc++];
  NEXT;
L_LOCALCHK: {
  Value v = base[pc[0]];
  if (v == kUnbound) {
    SAVE();
    v = make_errorf("symbol `%s` is not bound", as_symbol(K[pc[1]])->name);
    locate(v);
  }
  pc += 2;
  *top++ = v;
  NEXT;
}
L_SETLOCAL:
  base[*pc++] = *--top;
  NEXT;
L_ENVGET: {
  Env* e = fr->env;
  for (uint32_t d = pc[0]; d; --d) e = e->parent;
  Value v = e->slots[pc[1]];
  if (v == kUnbound) {
    SAVE();
    v = make_errorf("symbol `%s` is not bound", as_symbol(K[pc[2]])->name);
    locate(v);
  }
  pc += 3;
  *top++ = v;
  NEXT;
}
L_ENVSET: {
  Env* e = fr->env;
  for (uint32_t d = pc[0]; d; --d) e = e->parent;
  e->slots[pc[1]] = *--top;
  pc += 2;
  NEXT;
}
L_GLOBAL: {
  Symbol* s = as_symbol(K[*pc++]);
  Value v = s->global;
  if (v == kUnbound) {
    SAVE();
    v = global_shorthand(s);
    if (v == kUnbound) {
      v = make_errorf("symbol `%s` is not bound", s->name);
      locate(v);
    }
  }
  *top++ = v;
  NEXT;
}
L_DEFGLOBAL: {
  Symbol* s = as_symbol(K[*pc++]);
  Value v = top[-1];
  if (!is_error(v)) {
    s->global = v;
    if (s->h.aux & kSymInlined) g_inline_redefined = true;
    top[-1] = kNil;
  }
  NEXT;
}
L_SETGLOBAL: {
  Symbol* s = as_symbol(K[*pc++]);
  s->global = top[-1];
  if (s->h.aux & kSymInlined) g_inline_redefined = true;
  top[-1] = kNil;
  NEXT;
}
L_POP:
  --top;
  NEXT;
L_JMP:
  pc = fr->closure->proto->code + *pc;
  NEXT;
L_IFJMP: {
  Value c = *--top;
  if (is_error(c)) {
    *top++ = c;
    pc = fr->closure->proto->code + pc[1];
  } else if (!truthy(c)) {
    pc = fr->closure->proto->code + pc[0];
  } else {
    pc += 2;
  }
  NEXT;
}
L_SEQPOP:
  if (is_error(top[-1])) {
    pc = fr->closure->proto->code + *pc;
  } else {
    --top;
    ++pc;
  }
  NEXT;
L_ANDJ:
  if (is_error(top[-1]) || !truthy(top[-1])) {
    pc = fr->closure->proto->code + *pc;
  } else {
    --top;
    ++pc;
  }
  NEXT;
L_ORJ:
  if (is_error(top[-1]) || truthy(top[-1])) {
    pc = fr->closure->proto->code + *pc;
  } else {
    --top;
    ++pc;
  }
  NEXT;
L_ERRJ:
  if (is_error(top[-1])) {
    pc = fr->closure->proto->code + *pc;
  } else {
    ++pc;
  }
  NEXT;
L_TRYJ:
  if (!is_error(top[-1])) {
    pc = fr->closure->proto->code + *pc;
  } else {
    ++pc;
  }
  NEXT;
L_TRYCALL: {
  Value h = top[-1], err = top[-2];
  if (!is_function(h)) {
    top[-2] = h;
    --top;
    NEXT;
  }
  top[-2] = h;
  top[-1] = err;
  f = size_t(top - stack) - 2;
  n = 1;
  tail = false;
  goto do_call;
}
L_CALL: {
  n = int(*pc++);
  Value* fp = top - n - 1;
  COUNT_STEP(fp, false);
  CHECK_INTERRUPT(fp, false);
  Value fn = *fp;
  // Fast path: a stack-mode closure called with exactly its arity.
  if (has_type(fn, Type::Closure)) {
    Proto* p = as_closure(fn)->proto;
    size_t fi = size_t(fp - stack);
    if (uint32_t(n) == p->nparams && !(p->has_rest | p->env_mode) && nframes < max_depth &&
        nframes + 1 < frames_cap && fi + 1 + p->nlocals + p->maxstack + 8 <= stack_cap) {
      fr->pc = pc;
      Frame& nf = frames[nframes++];
      nf.pc = p->code;
      nf.closure = as_closure(fn);
      nf.env = as_closure(fn)->env;
      nf.base = uint32_t(fi + 1);
      nf.flags = 0;
      base = fp + 1;
      for (uint32_t i = uint32_t(n); i < p->nlocals; ++i) base[i] = kUnbound;
      top = base + p->nlocals;
      fr = &nf;
      pc = p->code;
      K = p->consts;
      NEXT;
    }
  } else if (has_type(fn, Type::Builtin)) {
    // Fast path: a builtin called with an acceptable number of arguments.
    auto* bi = reinterpret_cast<Builtin*>(fn);
    if (n >= bi->min_args && (bi->max_args < 0 || n <= bi->max_args)) {
      fr->pc = pc;
      f = size_t(fp - stack);
      sp = f + 1 + size_t(n);
      tail = false;
      builtin_result = bi->fn(*this, fp + 1, n);
      if (builtin_result == kUnbound || is_error(builtin_result)) goto after_builtin;
      // Nested runs (runtime lambdas) may have moved the stacks.
      fr = &frames[nframes - 1];
      base = stack + fr->base;
      stack[f] = builtin_result;
      top = stack + f + 1;
      NEXT;
    }
  }
  f = size_t(fp - stack);
  tail = false;
  goto do_call;
}
L_TAILCALL: {
  n = int(*pc++);
  Value* fp = top - n - 1;
  COUNT_STEP(fp, true);
  CHECK_INTERRUPT(fp, true);
  Value fn = *fp;
  if (has_type(fn, Type::Closure)) {
    Proto* p = as_closure(fn)->proto;
    if (uint32_t(n) == p->nparams && !(p->has_rest | p->env_mode) &&
        fr->base + p->nlocals + p->maxstack + 8 <= stack_cap) {
      // Reuse the frame: slide callee and arguments down to its base.
      Value* dst = base - 1;
      for (int i = 0; i <= n; ++i) dst[i] = fp[i];
      fr->closure = as_closure(fn);
      fr->env = as_closure(fn)->env;
      fr->pc = p->code;
      for (uint32_t i = uint32_t(n); i < p->nlocals; ++i) base[i] = kUnbound;
      top = base + p->nlocals;
      pc = p->code;
      K = p->consts;
      NEXT;
    }
  }
  f = size_t(fp - stack);
  tail = true;
  goto do_call;
}
L_CALL0V:
  if (!is_function(top[-1])) NEXT;
  n = 0;
  f = size_t(top - stack) - 1;
  tail = false;
  goto do_call;
L_TAILCALL0V:
  if (!is_function(top[-1])) {
    result = top[-1];
    SAVE();
    goto do_return;
  }
  n = 0;
  f = size_t(top - stack) - 1;
  tail = true;
  goto do_call;
L_RETURN:
  result = top[-1];
  goto do_return;
L_CLOSURE: {
  sp = size_t(top - stack);  // the collector must see the operand stack
  auto* c = static_cast<Closure*>(gc_alloc(sizeof(Closure)));
  c->h = {Type::Closure, 0, 0, 0};
  c->proto = as_proto(K[*pc++]);
  c->env = fr->env;
  *top++ = obj_val(c);
  NEXT;
}
L_EVAL: {
  Value scope = K[pc[0]];
  tail = pc[1] != 0;
  pc += 2;
  SAVE();
  Value code = top[-1];
  Value thunk = compile_eval(*this, code, scope, fr->env);
  if (is_error(thunk)) {
    locate(thunk);
    top[-1] = thunk;
    if (tail) {
      result = thunk;
      goto do_return;
    }
    NEXT;
  }
  top[-1] = thunk;
  f = size_t(top - stack) - 1;
  n = 0;
  goto do_call;
}
L_RESET: {
  Value thunk = top[-1];
  top[-1] = g_trampoline;
  *top++ = thunk;
  *top++ = rt().async.context;
  f = size_t(top - stack) - 3;
  n = 2;
  tail = false;
  goto do_call;
}
L_SHIFT: {
  SAVE();
  size_t m = SIZE_MAX;
  for (size_t i = nframes; i-- > stop_depth;) {
    if (frames[i].closure->proto->is_reset) {
      m = i;
      break;
    }
  }
  if (m == SIZE_MAX || m + 1 >= nframes) {
    Value e = make_error("async-shift used outside of async-reset");
    locate(e);
    top[-1] = e;
    NEXT;
  }
  Value fbody = top[-1];
  size_t seg_lo = frames[m + 1].base - 1;
  size_t seg_hi = size_t(top - stack) - 1;  // excludes fbody
  auto* k = static_cast<Continuation*>(gc_alloc(sizeof(Continuation)));
  k->h = {Type::Continuation, 0, 0, 0};
  k->nframes = uint32_t(nframes - (m + 1));
  k->nvals = uint32_t(seg_hi - seg_lo);
  k->frames = static_cast<Frame*>(gc_alloc(sizeof(Frame) * k->nframes));
  k->vals = static_cast<Value*>(gc_alloc(sizeof(Value) * (k->nvals + 1)));
  for (uint32_t i = 0; i < k->nframes; ++i) {
    k->frames[i] = frames[m + 1 + i];
    k->frames[i].base -= uint32_t(seg_lo);
  }
  memcpy(k->vals, stack + seg_lo, sizeof(Value) * k->nvals);
  // Drop the captured part; run the body as the reset's own body.
  nframes = m + 1;
  top = stack + seg_lo;
  *top++ = fbody;
  *top++ = obj_val(k);
  LOAD_FRAME();
  f = seg_lo;
  n = 1;
  tail = false;
  goto do_call;
}

// Inlined (+ a b), (< a b), ...: small integers on the fast path; anything
// else goes to the builtin, or to a real call if the program redefined it.
#define ARITH(OPNAME, EXPR_FAST)                                      \
  L_##OPNAME : {                                                      \
    Value a = top[-2], b = top[-1];                                   \
    if (is_fix(a) && is_fix(b) && !g_inline_redefined) {              \
      int64_t r;                                                      \
      if (EXPR_FAST) {                                                \
        top[-2] = make_fix(r);                                        \
        --top;                                                        \
        NEXT;                                                         \
      }                                                               \
    }                                                                 \
    slow_op = OP_##OPNAME;                                            \
    goto binary_slow;                                                 \
  }
#define CMP(OPNAME, OPER)                                             \
  L_##OPNAME : {                                                      \
    Value a = top[-2], b = top[-1];                                   \
    if (is_fix(a) && is_fix(b) && !g_inline_redefined) {              \
      top[-2] = make_bool(int64_t(a) OPER int64_t(b));                \
      --top;                                                          \
      NEXT;                                                           \
    }                                                                 \
    slow_op = OP_##OPNAME;                                            \
    goto binary_slow;                                                 \
  }

  // On tagged words: (2x+1) + (2y+1) - 1 = 2(x+y) + 1, and 64-bit overflow
  // of that is exactly "does not fit a small integer".
  ARITH(ADD, !__builtin_add_overflow(int64_t(a), int64_t(b) - 1, &r) && ((r = fix_val(Value(r))), true))
  ARITH(SUB, !__builtin_sub_overflow(int64_t(a), int64_t(b) - 1, &r) && ((r = fix_val(Value(r))), true))
  ARITH(MUL, !__builtin_mul_overflow(fix_val(a), fix_val(b), &r) && fits_fix(r))
  CMP(LT, <)
  CMP(GT, >)
  CMP(LE, <=)
  CMP(GE, >=)
  CMP(EQ, ==)
#undef ARITH
#undef CMP

binary_slow : {
  Inline& in = g_inline[slow_op];
  if (as_symbol(in.sym)->global == in.builtin) {
    SAVE();
    Value r = call_builtin_of(slow_op, *this, top - 2);
    locate(r);
    top[-2] = r;
    --top;
    NEXT;
  }
  // Redefined by the program: call its function with ( a b ).
  top[0] = top[-1];
  top[-1] = top[-2];
  top[-2] = as_symbol(in.sym)->global;
  ++top;
  f = size_t(top - stack) - 3;
  n = 2;
  tail = false;
  goto do_call;
}

#define UNARY(OPNAME, FAST_COND, FAST_VAL)                            \
  L_##OPNAME : {                                                      \
    Value a = top[-1];                                                \
    if ((FAST_COND) && !g_inline_redefined) {                         \
      top[-1] = (FAST_VAL);                                           \
      NEXT;                                                           \
    }                                                                 \
    Inline& in = g_inline[OP_##OPNAME];                               \
    if (as_symbol(in.sym)->global == in.builtin) {                    \
      SAVE();                                                         \
      Value r = call_builtin_of(OP_##OPNAME, *this, top - 1, 1);      \
      locate(r);                                                      \
      top[-1] = r;                                                    \
      NEXT;                                                           \
    }                                                                 \
    top[0] = top[-1];                                                 \
    top[-1] = as_symbol(in.sym)->global;                              \
    ++top;                                                            \
    f = size_t(top - stack) - 2;                                      \
    n = 1;                                                            \
    tail = false;                                                     \
    goto do_call;                                                     \
  }
  UNARY(HEAD, is_cons(a), car(a))
  UNARY(TAIL, is_cons(a), cdr(a))
  UNARY(ISNIL, !is_error(a), make_bool(a == kNil))
#undef UNARY

L_ADDI: {
  Value a = top[-1];
  int64_t r;
  if (is_fix(a) && !g_inline_redefined &&
      !__builtin_add_overflow(int64_t(a), int64_t(int32_t(*pc)) * 2, &r)) {
    top[-1] = Value(r);
    ++pc;
    NEXT;
  }
  *top++ = make_fix(int32_t(*pc++));
  slow_op = OP_ADD;
  goto binary_slow;
}
L_SUBI: {
  Value a = top[-1];
  int64_t r;
  if (is_fix(a) && !g_inline_redefined &&
      !__builtin_sub_overflow(int64_t(a), int64_t(int32_t(*pc)) * 2, &r)) {
    top[-1] = Value(r);
    ++pc;
    NEXT;
  }
  *top++ = make_fix(int32_t(*pc++));
  slow_op = OP_SUB;
  goto binary_slow;
}
L_IFCMP: {
  // Operands: cmp else end; then CALL 2 and IFJMP else end (5 words) that
  // only run when the program redefined the comparison.
  Value a = top[-2], b = top[-1];
  uint32_t cmp = pc[0];
  const uint32_t* code = fr->closure->proto->code;
  if (is_fix(a) && is_fix(b) && !g_inline_redefined) {
    int64_t x = int64_t(a), y = int64_t(b);
    bool c = cmp == OP_LT ? x < y : cmp == OP_GT ? x > y : cmp == OP_LE ? x <= y
           : cmp == OP_GE ? x >= y : x == y;
    top -= 2;
    pc = c ? pc + 8 : code + pc[1];
    NEXT;
  }
  Inline& in = g_inline[cmp];
  if (as_symbol(in.sym)->global == in.builtin) {
    SAVE();
    Value r = call_builtin_of(Op(cmp), *this, top - 2);
    locate(r);
    top -= 2;
    if (is_error(r)) {
      *top++ = r;
      pc = code + pc[2];
    } else {
      pc = truthy(r) ? pc + 8 : code + pc[1];
    }
    NEXT;
  }
  top[0] = top[-1];
  top[-1] = top[-2];
  top[-2] = as_symbol(in.sym)->global;
  ++top;
  pc += 3;
  NEXT;
}

L_CTXSET: {
  rt().async.context = base[*pc++];
  NEXT;
}

L_JOBDONE: {
  SAVE();
  Value token = base[*pc++];
  if (job_done_hook) job_done_hook(*this, token, top[-1]);
  top[-1] = kTrue;
  NEXT;
}

L_EQV: {
  top[-2] = make_bool(values_equal(top[-2], top[-1]));
  --top;
  NEXT;
}

// ---- calls ------------------------------------------------------------------
// On entry: stack[f] is the callee, stack[f+1 .. f+n] the arguments, top
// just above them; `tail` says whether the current frame is replaced.
do_call : {
  COUNT_STEP(stack + f, tail);
  CHECK_INTERRUPT(stack + f, tail);
  // Paths below may allocate: the collector sees the stack up to sp only.
  sp = size_t(top - stack);
  Value fn = stack[f];
  if (!is_obj(fn)) goto call_nonfunction;
  switch (as_obj(fn)->type) {
    case Type::Closure: {
      Proto* p = as_closure(fn)->proto;
      if (n != p->nparams || p->has_rest) {
        if (n < p->nparams) {  // too few: a partial application
          auto* part = static_cast<Partial*>(gc_alloc(sizeof(Partial) + sizeof(Value) * size_t(n)));
          part->h = {Type::Partial, 0, 0, uint32_t(n)};
          part->fn = fn;
          SAVE();  // current_loc reads the saved pc
          part->made = current_loc();
          memcpy(part->args, stack + f + 1, sizeof(Value) * size_t(n));
          result = obj_val(part);
          goto deliver_pre;
        }
        if (!p->has_rest) {
          SAVE();
          result = make_errorf("%s: too many arguments (given %d, expected %u)",
                               is_symbol(p->name) ? as_symbol(p->name)->name : "lambda", n,
                               unsigned(p->nparams));
          locate(result);
          goto deliver_pre;
        }
        // Collect the rest into a list in the slot after the fixed ones.
        Value rest = kNil;
        for (size_t i = f + size_t(n); i > f + p->nparams; --i) rest = cons(stack[i], rest, true);
        stack[f + 1 + p->nparams] = rest;
        n = p->nparams + 1;
      }
      if (tail) {
        // Reuse the current frame: slide callee and arguments down.
        size_t dst = fr->base - 1;
        memmove(stack + dst, stack + f, sizeof(Value) * size_t(n + 1));
        f = dst;
        --nframes;
      } else {
        SAVE();
        if (nframes >= max_depth) {
          result = make_errorf("stack overflow: more than %zu nested calls", max_depth);
          locate(result);
          goto deliver_pre;
        }
      }
      size_t need = f + 1 + p->nlocals + p->maxstack + 8;
      if (need > stack_cap) grow_stack(need);
      if (nframes + 1 >= frames_cap) grow_frames();
      Value* b = stack + f + 1;
      Frame& nf = frames[nframes++];
      nf.pc = p->code;
      nf.closure = as_closure(fn);
      nf.base = uint32_t(f + 1);
      nf.flags = 0;
      for (uint32_t i = uint32_t(n); i < p->nlocals; ++i) b[i] = kUnbound;
      if (p->env_mode) {
        auto* e = static_cast<Env*>(gc_alloc(sizeof(Env) + sizeof(Value) * p->nlocals));
        e->h = {Type::Env, 0, 0, p->nlocals};
        e->parent = as_closure(fn)->env;
        memcpy(e->slots, b, sizeof(Value) * p->nlocals);
        nf.env = e;
        top = b;
      } else {
        nf.env = as_closure(fn)->env;
        top = b + p->nlocals;
      }
      fr = &nf;
      pc = p->code;
      base = b;
      K = p->consts;
      NEXT;
    }
    case Type::Builtin: {
      auto* bi = reinterpret_cast<Builtin*>(fn);
      if (n < bi->min_args || (bi->max_args >= 0 && n > bi->max_args)) {
        SAVE();
        if (bi->min_args == bi->max_args)
          result = make_errorf("%s: expected %d argument%s, got %d", bi->name, bi->min_args,
                               bi->min_args == 1 ? "" : "s", n);
        else if (bi->max_args < 0)
          result = make_errorf("%s: expected at least %d argument%s, got %d", bi->name,
                               bi->min_args, bi->min_args == 1 ? "" : "s", n);
        else
          result = make_errorf("%s: expected %d to %d arguments, got %d", bi->name, bi->min_args,
                               bi->max_args, n);
        locate(result);
        goto deliver_pre;
      }
      SAVE();
      sp = f + 1 + size_t(n);
      builtin_result = bi->fn(*this, stack + f + 1, n);
      goto after_builtin;
    }
    case Type::Partial: {
      Partial* part = as_partial(fn);
      size_t m = part->h.extra;
      size_t need = f + 1 + size_t(n) + m + 16;
      if (need > stack_cap) {
        SAVE();
        grow_stack(need);
        LOAD_FRAME();
      }
      memmove(stack + f + 1 + m, stack + f + 1, sizeof(Value) * size_t(n));
      memcpy(stack + f + 1, part->args, sizeof(Value) * m);
      stack[f] = part->fn;
      n += int(m);
      top = stack + f + 1 + n;
      goto do_call;
    }
    case Type::Continuation: {
      if (n > 1) {
        SAVE();
        result = make_errorf("continuation: expected 0 or 1 arguments, got %d", n);
        locate(result);
        goto deliver_pre;
      }
      auto* k = reinterpret_cast<Continuation*>(fn);
      Value v = n == 1 ? stack[f + 1] : kNil;
      if (tail) {
        size_t dst = fr->base - 1;
        f = dst;
        --nframes;
      } else {
        SAVE();
      }
      if (nframes + k->nframes + 1 >= max_depth) {
        if (tail) ++nframes;  // the frame was not replaced after all
        fr = &frames[nframes - 1];
        result = make_errorf("stack overflow: more than %zu nested calls", max_depth);
        locate(result);
        goto deliver_pre;
      }
      size_t lo = f + 3;  // trampoline callee at f, its two locals at f+1, f+2
      size_t need = lo + k->nvals + k->frames[k->nframes - 1].closure->proto->maxstack + 16;
      if (need > stack_cap) grow_stack(need);
      while (nframes + k->nframes + 2 >= frames_cap) grow_frames();
      stack[f] = g_trampoline;
      stack[f + 1] = kNil;
      stack[f + 2] = rt().async.context;  // restored when the continuation returns
      frames[nframes++] = {g_trampoline_ret, as_closure(g_trampoline), nullptr, uint32_t(f + 1), 0};
      memcpy(stack + lo, k->vals, sizeof(Value) * k->nvals);
      for (uint32_t i = 0; i < k->nframes; ++i) {
        Frame fcopy = k->frames[i];
        fcopy.base += uint32_t(lo);
        frames[nframes++] = fcopy;
      }
      LOAD_FRAME();
      top = stack + lo + k->nvals;
      *top++ = v;
      NEXT;
    }
    default:
      break;
  }
call_nonfunction:
  SAVE();
  if (is_error(fn)) {
    result = fn;
  } else {
    result = make_errorf("cannot call a non-function: %s", describe_type(fn).c_str());
    locate(result);
  }
  goto deliver_pre;
}

// A builtin returned: a tail call it asked for, or its value.
after_builtin : {
  Value r = builtin_result;
  // The builtin may have run nested code that grew the stacks.
  LOAD_FRAME();
  if (r == kUnbound && has_pending) {
    Value pf = pending_fn, pa = pending_args;
    pending_fn = pending_args = kNil;
    has_pending = false;
    size_t cnt = list_length(pa);
    size_t need = f + cnt + 16;
    if (need > stack_cap) grow_stack(need);
    LOAD_FRAME();
    stack[f] = pf;
    size_t i = f + 1;
    for (Value a = pa; is_cons(a); a = cdr(a)) stack[i++] = car(a);
    top = stack + i;
    n = int(cnt);
    goto do_call;
  }
  if (is_error(r)) locate(r);
  result = r;
  goto deliver_pre;
}

interrupted:
  SAVE();
  result = make_error("interrupted");
  locate(result);
  goto deliver_pre;

#ifdef VALK_STEP_LIMIT
step_limit_hit:
  SAVE();
  result = make_error("step limit exceeded");
  locate(result);
  goto deliver_pre;
#endif

// A call finished without entering a frame: the result replaces the
// callee slot, or returns from the current frame for a tail call.
deliver_pre:
  if (tail) goto do_return;
  stack[f] = result;
  top = stack + f + 1;
  NEXT;

do_return : {
  Frame& cur = frames[nframes - 1];
  size_t dst = cur.base - 1;
  stack[dst] = result;
  --nframes;
  if (nframes == stop_depth) {
    sp = dst + 1;
    exec_base = saved_exec_base;
    return result;
  }
  top = stack + dst + 1;
  LOAD_FRAME();
  NEXT;
}

#undef LOAD_FRAME
#undef SAVE
#undef NEXT
#undef COUNT_STEP
#undef CHECK_INTERRUPT
}

}  // namespace valk
