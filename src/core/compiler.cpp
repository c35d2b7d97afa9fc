// Compiler: forms to bytecode (see opcodes.h for the instruction set).
//
// Variables are resolved at compile time. A function keeps its locals in
// stack slots unless an inner lambda captures them or it calls `eval` on
// code that may name them; then it runs in "env mode" and its locals live
// in a heap Env that closures share. The need is discovered while compiling
// inner functions, so the compiler records it and recompiles the whole
// top-level form once more ("restart"); compiling is cheap next to running.
#include "core/compiler.h"

#include <gc/gc.h>
#include <gc/gc_allocator.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/opcodes.h"
#include "core/vm.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using ValueVec = std::vector<Value, traceable_allocator<Value>>;

struct Sym {
  Value quote = intern("quote"), quasiquote = intern("quasiquote");
  Value unquote = intern("unquote"), splice = intern("unquote-splicing");
  Value if_ = intern("if"), def = intern("def"), assign = intern("=");
  Value backslash = intern("\\"), lambda = intern("lambda"), fn = intern("fn");
  Value fun = intern("fun"), do_ = intern("do"), let = intern("let");
  Value and_ = intern("and"), or_ = intern("or"), cond = intern("cond");
  Value select = intern("select"), case_ = intern("case");
  Value thread_first = intern("->"), thread_last = intern("->>");
  Value try_ = intern("try"), eval = intern("eval");
  Value reset = intern("async-reset"), shift = intern("async-shift");
  Value when = intern("when"), unless = intern("unless");
  Value amp = intern("&"), else_ = intern("else"), otherwise = intern("otherwise");
  Value kelse = intern(":else"), underscore = intern("_"), nil = intern("nil");
  Value plus = intern("+"), minus = intern("-"), star = intern("*");
  Value lt = intern("<"), gt = intern(">"), le = intern("<="), ge = intern(">=");
  Value eq = intern("==");
  Value head = intern("head"), tail = intern("tail"), nilp = intern("nil?");
  Value penv = intern("penv"), list = intern("list"), plist_of = intern("%list");
  Value aio_do = intern("aio/do"), aio_let = intern("aio/let"), bind_arrow = intern("<-");
  Value aio_bind = intern("%aio-bind"), as_handle = intern("%aio-as-handle");
  Value aio_then = intern("aio/then"), aio_all = intern("aio/all"), nth = intern("nth");
  Value kthen = intern(":then");
  Value ctx_with = intern("ctx/with"), ctx_with_deadline = intern("ctx/with-deadline");
  Value ctx_local = intern("%ctx-local"), ctx_enter = intern("%ctx-enter");
  Value ctx_leave = intern("%ctx-leave");
  Value ctx_deadline = intern("%ctx-deadline");
};
const Sym& S() {
  static const Sym* s = new Sym;
  return *s;
}

struct Var {
  Value name;
  uint32_t slot;
  int block;
  bool checked;  // declared by `=`: may be read before it is bound
};
struct ExtVar {
  Value name;
  uint32_t depth, slot;
};

// Thrown by Compiler::compile_error, caught by the nearest enclosing form.
struct CompileError {
  std::string msg;
  SrcLoc loc;
};

struct FnState {
  FnState* parent = nullptr;
  bool external = false;  // the caller's scope around eval'd code
  std::vector<ExtVar> ext;
  std::vector<Var> vars;
  bool env_mode = false;
  bool toplevel = false;
  int block = 0;
  uint32_t nlocals = 0;
  int depth = 0, maxdepth = 0;
  std::vector<uint32_t> code;
  ValueVec consts;
  std::vector<LocEntry> locs;
  SrcLoc cur{nullptr, 0, 0};
  Value key = kNil;
};

enum class Where { Local, Env, Global };
struct Resolved {
  Where where;
  uint32_t depth = 0, slot = 0;
  bool checked = false;
};

bool first_is_list(Value l) { return is_cons(l) && is_list(car(l)); }

class Compiler {
 public:
  // Forms the compiler builds itself (aio/do, aio/let) must be the same
  // objects on every attempt, since lambdas are known by their form.
  struct Rewrites {
    std::unordered_map<Value, Value> map;
    ValueVec keep;  // keeps the built forms alive between attempts
  };

  Compiler(const LocMap* locs, const char* file, std::unordered_set<Value>& need,
           Rewrites& rewrites)
      : locs_(locs), file_(file), need_(need), rewrites_(rewrites) {}

  bool restart = false;

  // Compiles `forms` as the body of a zero-argument function.
  Value function_of(Value forms, Value key, FnState* outer, bool toplevel, SrcLoc at) {
    FnState f;
    f.cur = at;
    f.parent = outer;
    f.key = key;
    f.toplevel = toplevel;
    f.env_mode = need_.count(key) > 0;
    FnState* saved = fs_;
    fs_ = &f;
    set_loc_of(key);
    // A top-level form's last call is not a tail call: its frame stays, so
    // an error raised in a library function it called is located at it.
    sequence(forms, !toplevel);
    if (toplevel) op(OP_RETURN, -1);
    fs_ = saved;
    return obj_val(finish(f, 0, false, kNil, kNil, forms));
  }

  // Code for the eval'd form inside the caller's scope.
  FnState* external_scope(Value scope) {
    ext_.external = true;
    for (Value l = scope; is_cons(l); l = cdr(l)) {
      Value t = car(l);
      ext_.ext.push_back({car(t), uint32_t(fix_val(car(cdr(t)))),
                          uint32_t(fix_val(car(cdr(cdr(t)))))});
    }
    return &ext_;
  }

 private:
  const LocMap* locs_;
  const char* file_;
  std::unordered_set<Value>& need_;
  Rewrites& rewrites_;

  template <class F>
  Value rewritten(Value form, F build) {
    auto it = rewrites_.map.find(form);
    if (it != rewrites_.map.end()) return it->second;
    Value r = build();
    rewrites_.map.emplace(form, r);
    rewrites_.keep.push_back(r);
    return r;
  }
  FnState* fs_ = nullptr;
  FnState ext_;

  // ---- emission ---------------------------------------------------------------
  void emit(uint32_t w) { fs_->code.push_back(w); }
  void note_loc() {
    auto& f = *fs_;
    if (!f.cur.file) return;
    if (!f.locs.empty() && f.locs.back().line == f.cur.line && f.locs.back().col == f.cur.col)
      return;
    if (!f.locs.empty() && f.locs.back().pc == f.code.size()) f.locs.pop_back();
    f.locs.push_back({uint32_t(f.code.size()), f.cur.line, f.cur.col});
  }
  void op(Op o, int effect) {
    note_loc();
    emit(o);
    adjust(effect);
  }
  void adjust(int effect) {
    fs_->depth += effect;
    fs_->maxdepth = std::max(fs_->maxdepth, fs_->depth);
  }
  size_t here() const { return fs_->code.size(); }
  size_t hole() {
    emit(0);
    return here() - 1;
  }
  void patch(size_t at) { fs_->code[at] = uint32_t(here()); }
  uint32_t konst(Value v) {
    auto& c = fs_->consts;
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i] == v && (is_symbol(v) || is_fix(v) || v == kNil || v == kTrue || v == kFalse))
        return uint32_t(i);
    c.push_back(v);
    return uint32_t(c.size() - 1);
  }
  void push_const(Value v) {
    if (v == kNil) {
      op(OP_NIL, 1);
    } else if (is_fix(v) && fix_val(v) >= INT32_MIN && fix_val(v) <= INT32_MAX) {
      op(OP_INT, 1);
      emit(uint32_t(int32_t(fix_val(v))));
    } else {
      op(OP_CONST, 1);
      emit(konst(v));
    }
  }
  void ret_if(bool tail) {
    if (tail) op(OP_RETURN, -1);
  }
  // Code that yields an error value, located like a runtime error.
  void error_value(std::string msg, bool tail) { push_error(msg, error_loc(), tail); }
  void push_error(const std::string& msg, SrcLoc at, bool tail) {
    Value e = make_error(msg);
    as_error(e)->loc = at;
    push_const(e);
    ret_if(tail);
  }
  // Code without a source (given to eval) is located where eval was called.
  SrcLoc error_loc() const { return fs_->cur.file ? fs_->cur : current_vm().current_loc(); }
  // A malformed form compiles to its error: this abandons the innermost
  // form being compiled (see expr), so none of its jumps is left unpatched.
  [[noreturn]] void compile_error(std::string msg) {
    throw CompileError{std::move(msg), error_loc()};
  }

  void set_loc_of(Value form) {
    if (!locs_ || !is_cons(form)) return;
    auto it = locs_->find(as_cons(form));
    if (it != locs_->end()) fs_->cur = it->second;
  }

  // ---- scope ------------------------------------------------------------------
  const Var* find_in(const FnState& f, Value name) const {
    for (auto it = f.vars.rbegin(); it != f.vars.rend(); ++it)
      if (it->name == name) return &*it;
    return nullptr;
  }
  bool is_local(Value name) const {
    for (const FnState* f = fs_; f; f = f->parent) {
      if (f->external) {
        for (auto& e : f->ext)
          if (e.name == name) return true;
      } else if (find_in(*f, name)) {
        return true;
      }
    }
    return false;
  }
  Resolved resolve(Value name) {
    uint32_t envdepth = 0;
    for (FnState* f = fs_; f; f = f->parent) {
      if (f->external) {
        for (auto it = f->ext.rbegin(); it != f->ext.rend(); ++it)
          if (it->name == name) return {Where::Env, envdepth + it->depth, it->slot, true};
        continue;
      }
      if (const Var* v = find_in(*f, name)) {
        if (f == fs_) {
          return {f->env_mode ? Where::Env : Where::Local, 0, v->slot, v->checked};
        }
        if (!f->env_mode) {  // captured from a stack-mode function: recompile
          need_.insert(f->key);
          restart = true;
          return {Where::Local, 0, 0, false};
        }
        return {Where::Env, envdepth, v->slot, true};
      }
      if (f->env_mode) ++envdepth;
    }
    return {Where::Global};
  }
  // When compiling code for eval, a variable of the frame that called eval.
  const ExtVar* eval_caller_var(Value name) const {
    if (!fs_->parent || !fs_->parent->external) return nullptr;
    for (auto it = fs_->parent->ext.rbegin(); it != fs_->parent->ext.rend(); ++it)
      if (it->name == name) return &*it;
    return nullptr;
  }
  uint32_t declare(Value name, int block, bool checked) {
    uint32_t slot = fs_->nlocals++;
    fs_->vars.push_back({name, slot, block, checked});
    return slot;
  }
  void end_block() {
    auto& v = fs_->vars;
    int b = fs_->block;
    v.erase(std::remove_if(v.begin(), v.end(), [b](const Var& x) { return x.block >= b; }),
            v.end());
    --fs_->block;
  }
  // Upstream's plist shorthand: `req:path` is (plist/get req :path) when
  // `req` is a local variable (for globals the VM resolves it at run time).
  bool plist_shorthand(Value name) {
    std::string_view n = as_symbol(name)->view();
    size_t colon = n.find(':', 1);
    if (colon == std::string_view::npos || colon + 1 >= n.size() || is_local(name)) return false;
    Value prefix = intern(n.substr(0, colon));
    if (!is_local(prefix)) return false;
    op(OP_GLOBAL, 1);
    emit(konst(intern("plist/get")));
    load_var(prefix);
    push_const(intern(n.substr(colon)));
    op(OP_CALL, -2);
    emit(2);
    return true;
  }

  void load_var(Value name) {
    if (plist_shorthand(name)) return;
    Resolved r = resolve(name);
    switch (r.where) {
      case Where::Local:
        if (r.checked) {
          op(OP_LOCALCHK, 1);
          emit(r.slot);
          emit(konst(name));
        } else {
          op(OP_LOCAL, 1);
          emit(r.slot);
        }
        break;
      case Where::Env:
        op(OP_ENVGET, 1);
        emit(r.depth);
        emit(r.slot);
        emit(konst(name));
        break;
      case Where::Global:
        op(OP_GLOBAL, 1);
        emit(konst(name));
        break;
    }
  }
  void store_slot(uint32_t slot) {
    if (fs_->env_mode) {
      op(OP_ENVSET, -1);
      emit(0);
      emit(slot);
    } else {
      op(OP_SETLOCAL, -1);
      emit(slot);
    }
  }

  // ---- expressions --------------------------------------------------------------
  // Compiling recurses on the nesting of code (not of data), so code
  // nested deeper than this is refused with an error instead of letting it
  // exhaust the C stack.
  static constexpr int kMaxNesting = 2000;
  int nesting_ = 0;

  void expr(Value x, bool tail) {
    if (is_cons(x) && !is_qcons(x)) {
      if (nesting_ >= kMaxNesting)
        return error_value("code nested too deeply (more than " +
                               std::to_string(kMaxNesting) + " levels)",
                           tail);
      ++nesting_;
      Mark m = mark();
      try {
        expr_list(x, tail);
      } catch (const CompileError& e) {
        // Drop the form's partial code: it becomes its error.
        rewind(m);
        push_error(e.msg, e.loc, tail);
      }
      --nesting_;
      return;
    }
    expr_list(x, tail);
  }

  // The compiler's state before a form, to abandon the form's code.
  struct Mark {
    FnState* fs;
    size_t code, vars;
    int depth, block, nesting;
    SrcLoc cur;
  };
  Mark mark() const {
    return {fs_, fs_->code.size(), fs_->vars.size(), fs_->depth, fs_->block, nesting_, fs_->cur};
  }
  void rewind(const Mark& m) {
    fs_ = m.fs;  // an inner function being compiled is abandoned too
    auto& f = *fs_;
    f.code.resize(m.code);
    while (!f.locs.empty() && f.locs.back().pc >= m.code) f.locs.pop_back();
    if (f.vars.size() > m.vars) f.vars.resize(m.vars);
    f.depth = m.depth;
    f.block = m.block;
    f.cur = m.cur;
    nesting_ = m.nesting;
    pending_name_ = kNil;
  }

  void expr_list(Value x, bool tail) {
    if (is_symbol(x)) {
      if (is_keyword(x)) {
        push_const(x);
      } else if (x == S().nil && !is_local(x)) {
        op(OP_NIL, 1);
      } else {
        load_var(x);
      }
      ret_if(tail);
      return;
    }
    if (!is_cons(x) || is_qcons(x)) {  // atoms and {} lists evaluate to themselves
      push_const(x);
      ret_if(tail);
      return;
    }
    SrcLoc saved = fs_->cur;
    set_loc_of(x);
    Value head = car(x);
    if (is_symbol(head) && !is_local(head) && special(head, x, tail)) {
      fs_->cur = saved;
      return;
    }
    if (cdr(x) == kNil) {  // (x): call x if it is a function, else x itself
      expr(head, false);
      if (tail) {
        op(OP_TAILCALL0V, -1);
      } else {
        op(OP_CALL0V, 0);
      }
      fs_->cur = saved;
      return;
    }
    call(x, tail);
    fs_->cur = saved;
  }

  // Compiles the element held by `cell`, located at the element itself
  // when the reader recorded where it was.
  void expr_at(Value cell, bool tail) {
    if (!locs_ || !is_symbol(car(cell))) return expr(car(cell), tail);
    auto it = locs_->find(elem_loc_key(cell));
    if (it == locs_->end()) return expr(car(cell), tail);
    SrcLoc saved = fs_->cur;
    fs_->cur = it->second;
    expr(car(cell), tail);
    fs_->cur = saved;
  }

  void call(Value x, bool tail) {
    Value head = car(x);
    size_t argc = list_length(cdr(x));
    Op inl = inline_binary(head, argc);
    if (inl != OP_COUNT) {
      Value b = car(cdr(cdr(x)));
      expr_at(cdr(x), false);
      if ((inl == OP_ADD || inl == OP_SUB) && is_fix(b) && fix_val(b) > -(1 << 30) &&
          fix_val(b) < (1 << 30)) {
        op(inl == OP_ADD ? OP_ADDI : OP_SUBI, 0);
        emit(uint32_t(int32_t(fix_val(b))));
      } else {
        expr_at(cdr(cdr(x)), false);
        op(inl, -1);
      }
      ret_if(tail);
      return;
    }
    if (argc == 1 && is_symbol(head) && !is_local(head)) {
      const Sym& s = S();
      Op inl = head == s.head ? OP_HEAD : head == s.tail ? OP_TAIL : head == s.nilp ? OP_ISNIL
                                                                                    : OP_COUNT;
      if (inl != OP_COUNT) {
        expr_at(cdr(x), false);
        op(inl, 0);
        ret_if(tail);
        return;
      }
    }
    expr_at(x, false);
    for (Value a = cdr(x); is_cons(a); a = cdr(a)) expr_at(a, false);
    if (tail) {
      op(OP_TAILCALL, -int(argc) - 1);
    } else {
      op(OP_CALL, -int(argc));
    }
    emit(uint32_t(argc));
  }

  // Runs forms in order; an error value stops the sequence and is its value.
  void sequence(Value forms, bool tail) {
    if (forms == kNil) {
      op(OP_NIL, 1);
      ret_if(tail);
      return;
    }
    std::vector<size_t> exits;
    for (Value f = forms; is_cons(f); f = cdr(f)) {
      bool last = !is_cons(cdr(f));
      if (last) {
        expr_at(f, tail);
      } else {
        expr_at(f, false);
        op(OP_SEQPOP, -1);
        exits.push_back(hole());
      }
    }
    for (size_t h : exits) patch(h);
    if (!exits.empty() && tail) {
      adjust(1);  // the error path arrives with its value
      op(OP_RETURN, -1);
    }
  }

  // Upstream body rule: {(a) (b)} is a sequence, {f x} is one expression.
  // A {...} body of two or more elements headed by a keyword, {:status x}, is
  // a list of its evaluated elements (docs/language.md#forms): (%list :status x).
  static Value body_forms(Value body) {
    if (body == kNil) return kNil;
    if (!is_cons(body)) return cons(body, kNil);
    if (first_is_list(body)) return body;
    if (is_qcons(body) && is_keyword(car(body)) && is_cons(cdr(body)))
      return cons(cons(S().plist_of, with_style(body, false)), kNil);
    return cons(with_style(body, false), kNil);
  }
  // A branch written {...} is code; anything else is an expression. A branch
  // {:k v ...} headed by a keyword builds its list, as a body does.
  static Value as_code(Value v) {
    if (!is_qcons(v)) return v;
    if (is_keyword(car(v)) && is_cons(cdr(v))) return cons(S().plist_of, with_style(v, false));
    return with_style(v, false);
  }

  bool special(Value head, Value x, bool tail) {
    const Sym& s = S();
    Value args = cdr(x);
    size_t n = list_length(args);
    auto arg = [&](size_t i) {
      Value a = args;
      while (i--) a = cdr(a);
      return car(a);
    };
    if (head == s.quote) {
      if (n != 1) compile_error("quote: expected 1 argument");
      push_const(arg(0));
      ret_if(tail);
      return true;
    }
    if (head == s.quasiquote) {
      if (n != 1) compile_error("quasiquote: expected 1 argument");
      Value t = arg(0);
      if (is_tagged(t, s.splice))
        compile_error("unquote-splicing (,@) not valid at top level of quasiquote");
      quasiquote(t);
      ret_if(tail);
      return true;
    }
    if (head == s.if_) return compile_if(args, n, tail), true;
    if (head == s.when || head == s.unless) {
      if (n < 1) compile_error("when: expected a condition");
      Value c = arg(0);
      Value body = cdr(args);
      Value then = cons(S().do_, body);
      Value form = head == s.when ? list3(c, then, kNil) : list3(c, kNil, then);
      compile_if(form, 3, tail);
      return true;
    }
    if (head == s.do_) return sequence(args, tail), true;
    if (head == s.def) return compile_def(args, n, tail, true), true;
    if (head == s.assign) return compile_def(args, n, tail, false), true;
    if ((head == s.backslash || head == s.lambda || head == s.fn) && n >= 1 &&
        !is_list(arg(0)))
      return false;  // not a lambda form: a call of a function by that name
    if (head == s.backslash) {
      if (n != 2) compile_error("\\: expected a parameter list and a body");
      lambda(arg(0), body_forms(arg(1)), kNil, x, arg(1));
      ret_if(tail);
      return true;
    }
    if (head == s.lambda || head == s.fn) {
      if (n < 1) compile_error("lambda: expected a parameter list");
      Value body = cdr(args);
      if (n == 2 && is_qcons(arg(1))) body = body_forms(arg(1));
      lambda(arg(0), body, kNil, x, body);
      ret_if(tail);
      return true;
    }
    if (head == s.fun) return compile_fun(args, n, x, tail), true;
    if (head == s.let) return compile_let(args, n, tail), true;
    if (head == s.and_ || head == s.or_) {
      if (n == 0) {
        push_const(make_bool(head == s.and_));
        ret_if(tail);
        return true;
      }
      // The last argument is in tail position; the others jump out with
      // the deciding value.
      std::vector<size_t> exits;
      for (Value a = args; is_cons(a); a = cdr(a)) {
        if (!is_cons(cdr(a))) {
          expr(car(a), tail);
        } else {
          expr(car(a), false);
          op(head == s.and_ ? OP_ANDJ : OP_ORJ, -1);
          exits.push_back(hole());
        }
      }
      for (size_t h : exits) patch(h);
      if (tail && !exits.empty()) {
        adjust(1);
        op(OP_RETURN, -1);
      }
      return true;
    }
    if (head == s.cond || head == s.select) return compile_cond(args, head == s.select, tail), true;
    if (head == s.case_) return compile_case(args, n, tail), true;
    if (head == s.thread_first || head == s.thread_last) {
      if (n < 1) compile_error("->: expected a value");
      Value acc = rewritten(x, [&] { return thread(head == s.thread_first, args); });
      expr(acc, tail);
      return true;
    }
    if (head == s.try_) {
      if (n != 2) compile_error("try: expected an expression and a handler");
      expr(arg(0), false);
      op(OP_TRYJ, 0);
      size_t ok = hole();
      expr(arg(1), false);
      op(OP_TRYCALL, -1);  // ( err handler -- r )
      patch(ok);
      ret_if(tail);
      return true;
    }
    if (head == s.eval) {
      if (n != 1) compile_error("eval: expected 1 argument");
      // The eval'd code may name any local in sight: make them all heap
      // resident so it can reach them.
      for (FnState* f = fs_; f; f = f->parent) {
        if (f->external) continue;
        if (!f->env_mode) {
          need_.insert(f->key);
          restart = true;
        }
      }
      expr(arg(0), false);
      op(OP_EVAL, 0);
      emit(konst(scope_snapshot()));
      emit(tail ? 1 : 0);
      if (tail) adjust(-1);
      return true;
    }
    if (head == s.aio_do) {
      // Upstream's one-argument form: (aio/do {step ...}).
      Value steps = n == 1 && is_qcons(arg(0)) ? arg(0) : args;
      expr(rewritten(x, [&] { return aio_do_steps(steps); }), tail);
      return true;
    }
    if (head == s.aio_let) {
      if (n < 1) compile_error("aio/let: expected bindings and a body");
      Value bindings = arg(0);
      // Upstream wraps the binding list in {...}: {((a e1) (b e2))}.
      if (is_qcons(bindings) && is_cons(car(bindings)) && is_list(car(car(bindings))) &&
          cdr(bindings) == kNil)
        bindings = car(bindings);
      Value body = cdr(args);
      if (n == 2 && is_qcons(arg(1))) body = body_forms(arg(1));
      expr(rewritten(x, [&] { return aio_let_groups(bindings, body); }), tail);
      return true;
    }
    if (head == s.ctx_with || head == s.ctx_with_deadline) return compile_ctx_with(x, head, args, n, tail);
    if (head == s.penv) {
      // upstream's (penv): the current frame's bindings, newest first, as
      // a list of (name value) pairs.
      op(OP_GLOBAL, 1);
      emit(konst(s.list));
      size_t count = 0;
      for (auto it = fs_->vars.rbegin(); it != fs_->vars.rend(); ++it, ++count) {
        op(OP_GLOBAL, 1);
        emit(konst(s.list));
        push_const(it->name);
        load_var(it->name);
        op(OP_CALL, -2);
        emit(2);
      }
      op(OP_CALL, -int(count));
      emit(uint32_t(count));
      ret_if(tail);
      return true;
    }
    if (head == s.reset) {
      Value body = args;
      if (n == 1 && is_qcons(arg(0))) body = body_forms(arg(0));
      lambda(kNil, body, kNil, x, body);
      op(OP_RESET, 0);
      ret_if(tail);
      return true;
    }
    if (head == s.shift) {
      if (n < 1) compile_error("async-shift: expected a continuation name");
      Value k = arg(0);
      if (is_cons(k)) k = car(k);
      if (!is_symbol(k)) compile_error("async-shift: expected a continuation name");
      Value body = cdr(args);
      if (n == 2 && is_qcons(arg(1))) body = body_forms(arg(1));
      lambda(cons(k, kNil), body, kNil, x, body);
      op(OP_SHIFT, 0);
      ret_if(tail);
      return true;
    }
    return false;
  }

  // (-> x (f a) g) is (g (f x a)); (->> x (f a) g) is (g (f a x)).
  static Value thread(bool first, Value args) {
    Value acc = car(args);
    for (Value st = cdr(args); is_cons(st); st = cdr(st)) {
      Value step = car(st);
      if (is_cons(step)) {
        if (first) {
          acc = cons(car(step), cons(acc, cdr(step)));
        } else {
          ListBuilder b(false);
          for (Value r = step; is_cons(r); r = cdr(r)) b.push(car(r));
          b.push(acc);
          acc = b.result();
        }
      } else {
        acc = cons(step, cons(acc, kNil));
      }
    }
    return acc;
  }

  static Value list3(Value a, Value b, Value c) { return cons(a, cons(b, cons(c, kNil))); }
  static Value list2(Value a, Value b) { return cons(a, cons(b, kNil)); }

  // (aio/do (<- x e) step ... last), or (x <- e): each step's handle is waited for and
  // a bound name is visible in every later step:
  //   (%aio-bind e (fn (x) (%aio-bind step (fn (_) ... (%aio-as-handle last)))))
  Value aio_do_steps(Value steps) {
    const Sym& s = S();
    if (steps == kNil) return list2(s.as_handle, kNil);
    Value step = car(steps);
    Value name = intern("%aio-step"), e = step;
    if (is_cons(step) && car(step) == s.bind_arrow && list_length(step) == 3) {
      name = car(cdr(step));
      e = car(cdr(cdr(step)));
    } else if (is_cons(step) && is_symbol(car(step)) && list_length(step) == 3 &&
               car(cdr(step)) == s.bind_arrow) {
      // Upstream's infix spelling: (x <- e).
      name = car(step);
      e = car(cdr(cdr(step)));
    }
    if (cdr(steps) == kNil) return list2(s.as_handle, e);
    Value rest = aio_do_steps(cdr(steps));
    Value lam = list3(s.fn, cons(name, kNil), rest);
    return list3(s.aio_bind, e, lam);
  }

  // :then, or upstream's '(:then) / {:then} / (quote :then).
  static bool is_then_barrier(Value v) {
    const Sym& s = S();
    if (v == s.kthen) return true;
    if (!is_cons(v)) return false;
    if (car(v) == s.kthen && cdr(v) == kNil) return true;
    return car(v) == s.quote && is_cons(cdr(v)) && is_then_barrier(car(cdr(v)));
  }

  // (aio/let ((a e1) (b e2) :then (c e3)) body...): a group's expressions
  // start together (aio/all, so the first failure cancels the others);
  // :then starts a group that waits for, and sees, the ones before.
  Value aio_let_groups(Value bindings, Value body) {
    const Sym& s = S();
    ListBuilder names(false), exprs(false);
    Value rest = kNil;
    for (Value b = bindings; is_cons(b); b = cdr(b)) {
      if (is_then_barrier(car(b))) {
        rest = cdr(b);
        break;
      }
      Value pair = car(b);
      if (!is_cons(pair) || !is_symbol(car(pair))) continue;
      names.push(car(pair));
      exprs.push(list2(s.as_handle, is_cons(cdr(pair)) ? car(cdr(pair)) : kNil));
    }
    Value inner = rest != kNil ? aio_let_groups(rest, body) : cons(s.do_, body);
    if (names.result() == kNil) return list2(s.as_handle, inner);
    Value vals = intern("%aio-values");
    ListBuilder lets(false);
    int64_t i = 1;
    for (Value nm = names.result(); is_cons(nm); nm = cdr(nm), ++i)
      lets.push(list2(car(nm), list3(s.nth, make_fix(i), vals)));
    Value let_form = list3(s.let, lets.result(), inner);
    Value all_form = list2(s.aio_all, cons(s.list, exprs.result()));
    return list3(s.aio_then, all_form, list3(s.fn, cons(vals, kNil), let_form));
  }
  static bool is_tagged(Value t, Value tag) {
    return is_cons(t) && car(t) == tag && is_cons(cdr(t)) && cdr(cdr(t)) == kNil;
  }

  // Evaluates a condition and branches: falls through when it is truthy,
  // jumps to an else hole when falsy and to an error hole (with the error
  // on the stack) when it is an error. An inlinable comparison becomes
  // one fused instruction.
  void branch_on(Value c, std::vector<size_t>& else_h, std::vector<size_t>& err_h) {
    Op cmp = is_cons(c) && !is_qcons(c) ? inline_binary(car(c), list_length(cdr(c))) : OP_COUNT;
    if (cmp == OP_LT || cmp == OP_GT || cmp == OP_LE || cmp == OP_GE || cmp == OP_EQ) {
      SrcLoc saved = fs_->cur;
      set_loc_of(c);
      expr_at(cdr(c), false);
      expr_at(cdr(cdr(c)), false);
      op(OP_IFCMP, -2);
      emit(cmp);
      else_h.push_back(hole());
      err_h.push_back(hole());
      // Taken only when the program redefined the comparison.
      emit(OP_CALL);
      emit(2);
      emit(OP_IFJMP);
      else_h.push_back(hole());
      err_h.push_back(hole());
      fs_->cur = saved;
      return;
    }
    expr(c, false);
    op(OP_IFJMP, -1);
    else_h.push_back(hole());
    err_h.push_back(hole());
  }

  Op inline_binary(Value head, size_t argc) const {
    if (argc != 2 || !is_symbol(head) || is_local(head)) return OP_COUNT;
    const Sym& s = S();
    if (head == s.plus) return OP_ADD;
    if (head == s.minus) return OP_SUB;
    if (head == s.star) return OP_MUL;
    if (head == s.lt) return OP_LT;
    if (head == s.gt) return OP_GT;
    if (head == s.le) return OP_LE;
    if (head == s.ge) return OP_GE;
    if (head == s.eq) return OP_EQ;
    return OP_COUNT;
  }

  void compile_if(Value args, size_t n, bool tail) {
    if (n < 2 || n > 3) compile_error("if: expected 2 or 3 arguments, got " + std::to_string(n));
    Value c = car(args), a = car(cdr(args));
    Value b = n == 3 ? car(cdr(cdr(args))) : kNil;
    std::vector<size_t> else_h, err_h;
    branch_on(c, else_h, err_h);
    int d0 = fs_->depth;
    expr(as_code(a), tail);
    size_t end_h = 0;
    if (!tail) {
      op(OP_JMP, 0);
      end_h = hole();
    }
    fs_->depth = d0;
    for (size_t h : else_h) patch(h);
    expr(as_code(b), tail);
    if (!tail) patch(end_h);
    for (size_t h : err_h) patch(h);
    if (tail) {
      fs_->depth = d0 + 1;
      op(OP_RETURN, -1);
    }
  }

  // (def name v) / (def {a b} 1 2) / (def (expr) v): globals.
  // (= {a b} 1 2): the current function's frame (globals at top level).
  void compile_def(Value args, size_t n, bool tail, bool global) {
    const char* what = global ? "def" : "=";
    if (n < 2) compile_error(std::string(what) + ": expected names and values");
    Value names = car(args);
    Value vals = cdr(args);
    if (is_symbol(names) && !is_keyword(names)) {
      names = cons(names, kNil);
    } else if (is_cons(names) && !is_qcons(names)) {
      return dynamic_def(args, n, tail);  // computed names: (def (head {x}) 5)
    }
    if (!is_list(names)) compile_error(std::string(what) + ": names must be symbols");
    size_t nn = list_length(names), nv = list_length(vals);
    if (nn != nv)
      compile_error(std::string(what) + ": " + std::to_string(nn) + " names but " +
                    std::to_string(nv) + " values");
    for (Value l = names; is_cons(l); l = cdr(l))
      if (!is_symbol(car(l)) || is_keyword(car(l)))
        compile_error(std::string(what) + ": names must be symbols");
    bool to_global = global || (fs_->toplevel && fs_->block == 0);
    std::vector<size_t> exits;
    Value v = vals;
    for (Value l = names; is_cons(l); l = cdr(l), v = cdr(v)) {
      Value name = car(l);
      Value val = car(v);
      bool is_lambda = is_cons(val) && !is_qcons(val) && is_symbol(car(val)) &&
                       !is_local(car(val)) &&
                       (car(val) == S().lambda || car(val) == S().fn ||
                        car(val) == S().backslash);
      if (is_lambda) pending_name_ = name;
      // (= {f} (\ ...)) may call itself: the name is in scope in its body.
      const Var* existing = to_global ? nullptr : find_in(*fs_, name);
      uint32_t slot = 0;
      if (!to_global) slot = existing ? existing->slot : is_lambda ? declare(name, 0, true) : 0;
      expr(val, false);
      pending_name_ = kNil;
      if (to_global) {
        // def refuses to bind an error (the form's value is the error);
        // = binds whatever it is given, as upstream does.
        op(global ? OP_DEFGLOBAL : OP_SETGLOBAL, 0);
        emit(konst(name));
      } else if (const ExtVar* outer = existing ? nullptr : eval_caller_var(name)) {
        // Code run by eval assigns in the calling frame, as upstream does.
        op(OP_ENVSET, -1);
        emit(outer->depth + (fs_->env_mode ? 1 : 0));
        emit(outer->slot);
        op(OP_NIL, 1);
      } else {
        if (!existing && !is_lambda) slot = declare(name, 0, true);
        store_slot(slot);
        op(OP_NIL, 1);
      }
      if (is_cons(cdr(l))) {
        op(OP_SEQPOP, -1);
        exits.push_back(hole());
      }
    }
    // An error value leaves the error as the result; fall through otherwise.
    if (!exits.empty()) {
      op(OP_JMP, 0);
      size_t done = hole();
      for (size_t h : exits) patch(h);
      patch(done);
    }
    ret_if(tail);
  }

  // def with computed names: the %def builtin binds globals at run time.
  void dynamic_def(Value args, size_t argc, bool tail) {
    op(OP_GLOBAL, 1);
    emit(konst(intern("%def")));
    for (Value a = args; is_cons(a); a = cdr(a)) expr(car(a), false);
    if (tail) {
      op(OP_TAILCALL, -int(argc) - 1);
    } else {
      op(OP_CALL, -int(argc));
    }
    emit(uint32_t(argc));
  }

  // (fun {name a b} {body}) or (fun (name a b) body...): a global function.
  void compile_fun(Value args, size_t n, Value x, bool tail) {
    if (n < 2 || !is_cons(car(args)) || !is_symbol(car(car(args))))
      compile_error("fun: expected {name params...} and a body");
    Value sig = car(args);
    Value name = car(sig);
    Value body = cdr(args);
    if (n == 2 && is_list(car(cdr(args))) && (is_qcons(car(cdr(args))) || car(cdr(args)) == kNil))
      body = body_forms(car(cdr(args)));
    lambda(cdr(sig), body, name, x, car(cdr(args)));
    op(OP_DEFGLOBAL, 0);
    emit(konst(name));
    ret_if(tail);
  }

  // Three shapes: (let {body}), (let {x 1 y 2} {body}), (let ((x 1)) body...)
  // Out of line (and never inlined): special()'s stack frame is paid at every
  // level of nested code, and code may nest 2,000 levels deep.
  __attribute__((noinline)) bool compile_ctx_with(Value x, Value head, Value args, size_t n,
                                                  bool tail) {
    const Sym& s = S();
    auto arg = [&](size_t i) {
      Value a = args;
      while (i--) a = cdr(a);
      return car(a);
    };
    // (ctx/with key v body...) and (ctx/with-deadline ms body...) are
    // special forms because their body runs under the new context. The
    // body is compiled in place, as `do` is (so `=` in it binds in the
    // enclosing frame, as upstream's does), between two builtins
    // (src/lib/context.cpp):
    //   (%ctx-leave (%ctx-enter (%ctx-local key v)) (do body...))
    // %ctx-enter makes the new context current and returns the previous
    // one; %ctx-leave makes that current again and returns the body's
    // value (a failing form ends the body with its error, as in do). An
    // error making the context is the result, the body skipped:
    // %ctx-enter returns it, ERRJ jumps over the body, and %ctx-leave
    // given an error as the previous context returns it.
    // A body left early by async-shift is covered by the reset, which
    // restores the context it started under (src/core/vm.cpp).
    bool local = head == s.ctx_with;
    size_t nhead = local ? 2 : 1;
    if (n < nhead)
      compile_error(local ? "ctx/with: expected a key, a value and a body"
                          : "ctx/with-deadline: expected a timeout in milliseconds and a body");
    Value body = args;
    for (size_t i = 0; i < nhead; ++i) body = cdr(body);
    if (n == nhead + 1 && is_qcons(car(body))) body = body_forms(car(body));
    Value make = rewritten(x, [&] {
      return local ? list3(s.ctx_local, arg(0), arg(1)) : list2(s.ctx_deadline, arg(0));
    });
    op(OP_GLOBAL, 1);
    emit(konst(s.ctx_leave));
    op(OP_GLOBAL, 1);
    emit(konst(s.ctx_enter));
    expr(make, false);
    op(OP_CALL, -1);
    emit(1);
    op(OP_ERRJ, 0);
    size_t bad = hole();
    sequence(body, false);
    op(OP_JMP, 0);
    size_t join = hole();
    patch(bad);
    adjust(-1);
    op(OP_NIL, 1);  // (%ctx-leave error ())
    patch(join);
    op(OP_CALL, -2);
    emit(2);
    ret_if(tail);
    return true;
  }

  void compile_let(Value args, size_t n, bool tail) {
    if (n == 0) compile_error("let: expected bindings and a body");
    Value bindings = kNil, body;
    if (n == 1) {
      body = body_forms(car(args));
    } else {
      bindings = car(args);
      body = cdr(args);
      if (n == 2 && is_qcons(car(body))) body = body_forms(car(body));
      if (!is_list(bindings)) compile_error("let: bindings must be a list");
    }
    ++fs_->block;
    std::vector<std::pair<Value, Value>> pairs;
    if (is_cons(bindings) && is_list(car(bindings))) {
      for (Value b = bindings; is_cons(b); b = cdr(b)) {
        Value p = car(b);
        if (!is_cons(p) || !is_symbol(car(p)))
          compile_error("let: each binding must be (name value)");
        pairs.push_back({car(p), is_cons(cdr(p)) ? car(cdr(p)) : kNil});
      }
    } else {
      for (Value b = bindings; is_cons(b); b = cdr(cdr(b))) {
        if (!is_symbol(car(b)) || !is_cons(cdr(b)))
          compile_error("let: bindings must alternate names and values");
        pairs.push_back({car(b), car(cdr(b))});
      }
    }
    for (auto& [name, val] : pairs) {
      expr(val, false);
      uint32_t slot = declare(name, fs_->block, false);
      store_slot(slot);
    }
    sequence(body, tail);
    end_block();
  }

  void compile_cond(Value clauses, bool is_select, bool tail) {
    std::vector<size_t> ends;
    int d0 = fs_->depth;
    const Sym& s = S();
    for (Value c = clauses; is_cons(c); c = cdr(c)) {
      Value cl = car(c);
      if (!is_cons(cl))
        compile_error(is_select ? "select: each clause must be a list"
                                : "cond: each clause must be a list");
      Value test = car(cl);
      Value body = cdr(cl);
      if (is_select && (!is_cons(body) || cdr(body) != kNil))
        compile_error("select: each clause must be {condition result}");
      if (is_select) body = cons(as_code(car(body)), kNil);
      bool always = test == s.else_ || test == s.otherwise || test == s.kelse || test == kTrue;
      if (always && !is_local(test)) {
        fs_->depth = d0;
        sequence(body, tail);
        for (size_t h : ends) patch(h);
        return;
      }
      fs_->depth = d0;
      std::vector<size_t> next, err;
      branch_on(test, next, err);
      sequence(body, tail);
      if (!tail) {
        op(OP_JMP, 0);
        ends.push_back(hole());
      }
      for (size_t h : err) patch(h);
      if (tail) {
        // error in the test: return it
        fs_->depth = d0 + 1;
        op(OP_RETURN, -1);
      } else {
        op(OP_JMP, 0);
        ends.push_back(hole());
      }
      for (size_t h : next) patch(h);
    }
    fs_->depth = d0;
    if (is_select)
      error_value("select: no clause matched", tail);
    else {
      op(OP_NIL, 1);
      ret_if(tail);
    }
    for (size_t h : ends) patch(h);
  }

  // (case x (pattern result...) ...): patterns compared with ==; a pattern
  // written {expr} is evaluated, a (a b c) pattern matches any of them.
  void compile_case(Value args, size_t n, bool tail) {
    if (n < 1) compile_error("case: expected a value");
    const Sym& s = S();
    ++fs_->block;
    expr(car(args), false);
    uint32_t slot = declare(intern("%case"), fs_->block, false);
    store_slot(slot);
    std::vector<size_t> ends;
    int d0 = fs_->depth;
    for (Value c = cdr(args); is_cons(c); c = cdr(c)) {
      Value cl = car(c);
      if (!is_cons(cl)) compile_error("case: each clause must be a list");
      Value pat = car(cl), body = cdr(cl);
      fs_->depth = d0;
      if (pat == s.else_ || pat == s.otherwise || pat == s.kelse || pat == s.underscore) {
        sequence(body, tail);
        for (size_t h : ends) patch(h);
        end_block();
        return;
      }
      std::vector<Value> alts;
      if (is_qcons(pat)) {
        alts.push_back(with_style(pat, false));
      } else if (is_cons(pat)) {
        for (Value p = pat; is_cons(p); p = cdr(p)) alts.push_back(car(p));
      } else {
        alts.push_back(pat);
      }
      std::vector<size_t> hits;
      for (Value a : alts) {
        load_slot(slot);
        if (is_cons(a) && !is_qcons(a))
          expr(a, false);
        else if (is_symbol(a) && !is_keyword(a))
          push_const(a);  // a bare symbol pattern is a literal
        else
          expr(a, false);
        op(OP_EQV, -1);
        op(OP_ORJ, -1);
        hits.push_back(hole());
        // ORJ left nothing when false: continue with the next alternative
      }
      op(OP_JMP, 0);
      size_t next = hole();
      for (size_t h : hits) patch(h);
      adjust(1);
      op(OP_POP, -1);
      sequence(body, tail);
      if (!tail) {
        op(OP_JMP, 0);
        ends.push_back(hole());
      }
      patch(next);
    }
    fs_->depth = d0;
    error_value("case: no clause matched", tail);
    for (size_t h : ends) patch(h);
    end_block();
  }
  void load_slot(uint32_t slot) {
    if (fs_->env_mode) {
      op(OP_ENVGET, 1);
      emit(0);
      emit(slot);
      emit(konst(intern("%case")));
    } else {
      op(OP_LOCAL, 1);
      emit(slot);
    }
  }

  // Quasiquote: constant parts stay constant; the rest is rebuilt at run
  // time by %qq (which also aborts on an error from any unquote).
  // The template lists holding an unquote, found by one bottom-up pass over
  // each template, so that quasi never rescans a subtree.
  std::unordered_set<Value> qq_live_;
  void find_unquotes(Value t) {
    if (!is_cons(t)) return;
    const Sym& s = S();
    struct Item {
      Value list, next;
      bool live;
    };
    std::vector<Item, traceable_allocator<Item>> work;
    auto open = [&](Value v) {
      work.push_back({v, v, car(v) == s.unquote || car(v) == s.splice});
    };
    open(t);
    while (!work.empty()) {
      Item& it = work.back();
      if (is_cons(it.next)) {
        Value el = car(it.next);
        it.next = cdr(it.next);
        if (is_cons(el)) open(el);
        continue;
      }
      Item done = it;
      work.pop_back();
      if (done.live) {
        qq_live_.insert(done.list);
        if (!work.empty()) work.back().live = true;
      }
    }
  }
  void quasiquote(Value t) {
    find_unquotes(t);
    quasi(t);
  }
  // Recurses on the template's nesting, counted with the code's nesting.
  void quasi(Value t) {
    const Sym& s = S();
    if (!is_cons(t) || !qq_live_.count(t)) {
      push_const(t);
      return;
    }
    if (is_tagged(t, s.unquote)) {
      expr(car(cdr(t)), false);
      return;
    }
    if (car(t) == s.unquote || car(t) == s.splice)
      compile_error(std::string(as_symbol(car(t))->name) + ": expected 1 argument");
    if (nesting_ >= kMaxNesting)
      compile_error("quasiquote template nested too deeply (more than " +
                    std::to_string(kMaxNesting) + " levels)");
    ++nesting_;
    // (%qq mask e1 e2 ...): mask is a list of flags, :splice for spliced.
    op(OP_GLOBAL, 1);
    emit(konst(intern("%qq")));
    ListBuilder mask(is_qcons(t));
    size_t argc = 1;
    for (Value e = t; is_cons(e); e = cdr(e)) ++argc;
    op(OP_CONST, 1);
    size_t mask_slot = hole();
    for (Value e = t; is_cons(e); e = cdr(e)) {
      Value el = car(e);
      if (is_tagged(el, s.splice)) {
        mask.push(kTrue);
        expr(car(cdr(el)), false);
      } else {
        mask.push(kFalse);
        quasi(el);
      }
    }
    // The mask list's style carries the template's {} / () style.
    Value m = mask.result();
    fs_->code[mask_slot] = konst(cons(make_bool(is_qcons(t)), m));
    op(OP_CALL, -int(argc));
    emit(uint32_t(argc));
    --nesting_;
  }

  // The locals visible here, for code eval'd at run time: ((name depth slot)...)
  Value scope_snapshot() {
    ListBuilder b;
    uint32_t envdepth = 0;
    for (FnState* f = fs_; f; f = f->parent) {
      if (f->external) {
        for (auto& e : f->ext)
          b.push(list3(e.name, make_fix(envdepth + e.depth), make_fix(e.slot)));
        continue;
      }
      for (auto& v : f->vars) b.push(list3(v.name, make_fix(envdepth), make_fix(v.slot)));
      if (f->env_mode) ++envdepth;
    }
    return b.result();
  }

  Value pending_name_ = kNil;

  // Compiles a function and emits CLOSURE for it.
  void lambda(Value formals, Value body, Value name, Value key, Value src_body) {
    if (name == kNil) name = pending_name_;
    pending_name_ = kNil;
    if (!is_list(formals)) compile_error("lambda: parameters must be a list");
    FnState f;
    f.parent = fs_;
    f.key = key;
    f.env_mode = need_.count(key) > 0;
    f.cur = fs_->cur;
    uint16_t nparams = 0;
    bool rest = false;
    std::vector<Value> params;
    for (Value p = formals; is_cons(p); p = cdr(p)) {
      Value sym = car(p);
      if (!is_symbol(sym) || is_keyword(sym))
        compile_error("lambda: parameters must be symbols");
      if (sym == S().amp) {
        if (!is_cons(cdr(p)) || !is_symbol(car(cdr(p))) || cdr(cdr(p)) != kNil)
          compile_error("lambda: & must be followed by exactly one name");
        rest = true;
        params.push_back(car(cdr(p)));
        break;
      }
      params.push_back(sym);
      ++nparams;
    }
    FnState* saved = fs_;
    fs_ = &f;
    for (Value p : params) declare(p, 0, false);
    sequence(body, true);
    fs_ = saved;
    Proto* proto = finish(f, nparams, rest, name, formals, src_body);
    op(OP_CLOSURE, 1);
    emit(konst(obj_val(proto)));
  }

 public:
  Proto* finish(FnState& f, uint16_t nparams, bool rest, Value name, Value formals, Value body) {
    auto* p = static_cast<Proto*>(gc_alloc(sizeof(Proto)));
    p->h = {Type::Proto, 0, 0, 0};
    p->ncode = uint32_t(f.code.size());
    p->code = static_cast<uint32_t*>(gc_alloc_atomic(sizeof(uint32_t) * (f.code.size() + 1)));
    std::copy(f.code.begin(), f.code.end(), p->code);
    p->nconsts = uint32_t(f.consts.size());
    p->consts = static_cast<Value*>(gc_alloc(sizeof(Value) * (f.consts.size() + 1)));
    std::copy(f.consts.begin(), f.consts.end(), p->consts);
    p->nparams = nparams;
    p->has_rest = rest;
    p->env_mode = f.env_mode;
    p->is_reset = 0;
    p->is_lib = file_ && strncmp(file_, "<lib>/", 6) == 0;
    p->nlocals = f.nlocals;
    p->maxstack = uint32_t(f.maxdepth) + 4;
    p->name = name;
    p->formals = formals;
    p->body = body;
    p->file = file_;
    p->nlocs = uint32_t(f.locs.size());
    p->locs = static_cast<LocEntry*>(gc_alloc_atomic(sizeof(LocEntry) * (f.locs.size() + 1)));
    std::copy(f.locs.begin(), f.locs.end(), p->locs);
    p->scope = nullptr;
    return p;
  }
};

Value make_closure(Proto* p, Env* env) {
  auto* c = static_cast<Closure*>(gc_alloc(sizeof(Closure)));
  c->h = {Type::Closure, 0, 0, 0};
  c->proto = p;
  c->env = env;
  return obj_val(c);
}

Value compile_body(VM& vm, Value forms, Value key, const LocMap* locs, const char* file,
                   Value scope, Env* env, bool toplevel, SrcLoc at = {nullptr, 0, 0}) {
  std::unordered_set<Value> need;
  Compiler::Rewrites rewrites;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    Compiler c(locs, file, need, rewrites);
    FnState* outer = scope == kNil ? nullptr : c.external_scope(scope);
    Value proto;
    try {
      proto = c.function_of(forms, key, outer, toplevel, at);
    } catch (const CompileError& e) {  // every form catches its own: not expected
      Value err = make_error(e.msg);
      as_error(err)->loc = e.loc;
      return err;
    }
    if (!c.restart) return make_closure(as_proto(proto), env);
  }
  return make_error("compiler: scope analysis did not converge");
}

}  // namespace

Value compile_toplevel(VM& vm, Value form, const LocMap* locs, const char* file, SrcLoc at) {
  return compile_body(vm, cons(form, kNil), form, locs, file, kNil, nullptr, true, at);
}

Value compile_program(VM& vm, Value forms, const LocMap* locs, const char* file) {
  return compile_body(vm, forms, forms == kNil ? cons(kNil, kNil) : forms, locs, file, kNil,
                      nullptr, true);
}

Value compile_eval(VM& vm, Value code, Value scope, Env* env) {
  // A {q-expr} handed to eval is code; everything else evaluates as is.
  Value form = is_qcons(code) ? with_style(code, false) : code;
  if (form == kNil) return compile_body(vm, cons(kNil, kNil), cons(kNil, kNil), nullptr, nullptr,
                                        scope, env, scope == kNil);
  Value key = cons(form, kNil);
  return compile_body(vm, key, key, nullptr, nullptr, scope, env, scope == kNil);
}

Value compile_lambda_value(VM& vm, Value formals, Value body) {
  Value form = cons(intern("\\"), cons(formals, cons(body, kNil)));
  Value thunk = compile_toplevel(vm, form, nullptr, nullptr);
  if (is_error(thunk)) return thunk;
  // The builtin's result is the thunk's (a closure): the VM calls it in the
  // builtin's place, so no Lisp runs under a C++ frame.
  return vm.tail_call(thunk, kNil);
}

SrcLoc proto_loc(const Proto* p, const uint32_t* pc) {
  if (!p || !p->file || p->nlocs == 0) return {p ? p->file : nullptr, 0, 0};
  uint32_t off = uint32_t(pc - p->code);
  const LocEntry* best = nullptr;
  size_t lo = 0, hi = p->nlocs;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (p->locs[mid].pc <= off) {
      best = &p->locs[mid];
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (!best) best = &p->locs[0];
  return {p->file, best->line, best->col};
}

}  // namespace valk
