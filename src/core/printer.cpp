// Printer: display and readable forms of values.
//
// Printing runs on an explicit work stack, so neither a long list nor a deep
// one grows the C stack, and any depth prints in full (and reads back).
// The language cannot build cycles, but C++ code can: a list that contains
// itself prints `...` where it recurs (Brent's cycle detection, on the path
// of enclosing values and on each list's spine, with O(1) work per value).
#include "core/printer.h"

#include <gc/gc.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <unordered_set>
#include <vector>

#include "core/dict.h"
#include "core/proto.h"

namespace valk {

namespace {

void put_int(std::string& out, int64_t i) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, r.ptr);
}

// Shortest text that reads back as the same double, always with a '.' or an
// exponent so that it reads back as a float and not an integer.
void put_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, size_t(r.ptr - buf));
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void put_quoted(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\v': out += "\\v"; break;
      case 0x1b: out += "\\e"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;  // printable ASCII and UTF-8 bytes as they are
        }
    }
  }
  out += '"';
}

class Printer {
 public:
  explicit Printer(std::string& out) : out_(out) {}

  void run(Value v, bool repr) {
    push_val(v, repr, 0);
    while (!work_.empty()) {
      Task t = work_.back();
      work_.pop_back();
      switch (t.kind) {
        case Task::Val: value(t.v, t.repr, t.depth); break;
        case Task::Rest: rest(t); break;
        case Task::Lit: out_ += t.lit; break;
        case Task::DictEnd: dicts_open_.erase(t.v); break;
      }
    }
  }

 private:
  struct Task {
    enum Kind : uint8_t { Val, Rest, Lit, DictEnd } kind;
    bool repr;
    char close;      // Rest: the list's closing bracket
    uint32_t depth;  // nesting of the value (Rest: of the list's elements' parent)
    Value v;
    const char* lit;
    Value mark;      // Rest: a spine cell seen before, for cycle detection
    uint32_t steps;  // Rest: cells printed so far
  };
  std::string& out_;
  std::vector<Task> work_;  // values here are reachable from the root
  // seen_[k]: the enclosing value at depth 2^k, for cycle detection.
  Value seen_[33] = {};
  // Dicts being printed (a dict is the one value a program can make contain
  // itself): a dict met again inside itself prints `...`.
  std::unordered_set<Value> dicts_open_;

  void push_val(Value v, bool repr, uint32_t depth) {
    work_.push_back({Task::Val, repr, 0, depth, v, nullptr, 0, 0});
  }
  void push_lit(const char* s) { work_.push_back({Task::Lit, false, 0, 0, 0, s, 0, 0}); }
  // A list value, or "{}" for nil: formals and bodies print as Q-expressions.
  void push_qlist(Value v, bool repr, uint32_t depth) {
    if (v == kNil)
      push_lit("{}");
    else
      push_val(v, repr, depth);
  }

  // Continues a list after an element: the next element, the improper tail,
  // or the closing bracket.
  void rest(const Task& t) {
    Value r = t.v;
    if (r == kNil) {
      out_ += t.close;
    } else if (r == t.mark) {  // the spine is circular
      out_ += " ...";
      out_ += t.close;
    } else if (is_cons(r)) {
      out_ += ' ';
      Value mark = std::has_single_bit(t.steps) ? r : t.mark;
      work_.push_back({Task::Rest, t.repr, t.close, t.depth, cdr(r), nullptr, mark, t.steps + 1});
      push_val(car(r), t.repr, t.depth + 1);
    } else {
      out_ += " . ";
      push_lit(t.close == ')' ? ")" : "}");
      push_val(r, t.repr, t.depth + 1);
    }
  }

  // Prints `(dict K V ...)` in insertion order, keys and values readable
  // whatever the mode: the text evaluates back to an equal dict.
  void dict(const Dict* d, uint32_t depth) {
    if (!dicts_open_.insert(obj_val(d)).second) {
      out_ += "...";
      return;
    }
    out_ += "(dict";
    work_.push_back({Task::DictEnd, false, 0, 0, obj_val(d), nullptr, 0, 0});
    push_lit(")");
    for (uint32_t i = d->used; i-- > 0;) {
      const DictEntry& e = d->entries[i];
      if (e.key == kUnbound) continue;
      push_val(e.value, true, depth + 1);
      push_lit(" ");
      push_val(e.key, true, depth + 1);
      push_lit(" ");
    }
  }

  // Prints `(\ FORMALS BODY)`; the parts are pushed in reverse.
  void lambda_repr(Value formals, Value body, uint32_t depth) {
    out_ += "(\\ ";
    push_lit(")");
    push_qlist(body, true, depth + 1);
    push_lit(" ");
    push_qlist(formals, true, depth + 1);
  }

  // True when v is an enclosing value of itself. Brent: compare with the
  // ancestor at the last power-of-two depth, which a cycle of length p
  // meets again within p levels once that depth exceeds p.
  bool recurs(Value v, uint32_t depth) {
    if (depth == 0) return false;
    int k = std::bit_width(depth) - 1;
    if (std::has_single_bit(depth)) {
      seen_[k] = v;
      return false;
    }
    return seen_[k] == v;
  }

  void value(Value v, bool repr, uint32_t depth) {
    if (recurs(v, depth)) {
      out_ += "...";
      return;
    }
    if (is_fix(v)) return put_int(out_, fix_val(v));
    if (v == kNil) {
      out_ += "()";
      return;
    }
    if (v == kTrue || v == kFalse) {
      out_ += v == kTrue ? "true" : "false";
      return;
    }
    if (v == kUnbound) {
      out_ += "#<unbound>";
      return;
    }
    if (is_cons(v)) {
      bool q = is_qcons(v);
      out_ += q ? '{' : '(';
      work_.push_back({Task::Rest, repr, q ? '}' : ')', depth, cdr(v), nullptr, v, 1});
      push_val(car(v), repr, depth + 1);
      return;
    }
    if (!is_obj(v)) {
      out_ += "#<invalid>";
      return;
    }
    switch (as_obj(v)->type) {
      case Type::Int: put_int(out_, int_val(v)); return;
      case Type::Float: put_float(out_, float_val(v)); return;
      case Type::String:
        if (repr)
          put_quoted(out_, as_string(v)->view());
        else
          out_ += as_string(v)->view();
        return;
      case Type::Symbol: out_ += as_symbol(v)->view(); return;
      case Type::Builtin: {
        const char* name = reinterpret_cast<Builtin*>(v)->name;
        out_ += "<builtin ";
        out_ += name ? name : "?";
        out_ += '>';
        return;
      }
      case Type::Closure: {
        Proto* p = as_closure(v)->proto;
        if (!p) {
          out_ += "<lambda>";
        } else if (repr) {
          lambda_repr(p->formals, p->body, depth);
        } else if (is_symbol(p->name)) {
          out_ += "<lambda ";
          out_ += as_symbol(p->name)->view();
          out_ += '>';
        } else {
          out_ += "<lambda>";
        }
        return;
      }
      case Type::Partial:
        // Both modes explain it: a partial usually shows up where a value
        // was wanted, and the reader should learn where it came from.
        out_ += '<';
        describe_partial(out_, as_partial(v));
        out_ += '>';
        return;
      case Type::Continuation: out_ += "<continuation>"; return;
      case Type::Error:
        // The message always displays, even inside a readable form.
        out_ += repr ? "Error[" : "Error: ";
        if (repr) push_lit("]");
        push_val(as_error(v)->message, false, depth + 1);
        return;
      case Type::Env: out_ += "<env>"; return;
      case Type::Proto: out_ += "<proto>"; return;
      case Type::Dict: dict(as_dict(v), depth); return;
      case Type::Opaque: {
        auto* o = reinterpret_cast<const Opaque*>(v);
        if (o->cls && o->cls->print) {
          o->cls->print(out_, o);
        } else {
          out_ += '<';
          out_ += o->cls && o->cls->name ? o->cls->name : "opaque";
          out_ += '>';
        }
        return;
      }
    }
    out_ += "#<invalid>";
  }
};

}  // namespace

void put_loc(std::string& out, const SrcLoc& loc) {
  out += loc.file;
  out += ':';
  put_int(out, loc.line);
  out += ':';
  put_int(out, loc.col);
}

void describe_partial(std::string& out, const Partial* pa) {
  out += "partial application of ";
  const Proto* p = has_type(pa->fn, Type::Closure) ? as_closure(pa->fn)->proto : nullptr;
  if (p && is_symbol(p->name))
    out += as_symbol(p->name)->view();
  else if (has_type(pa->fn, Type::Builtin) && reinterpret_cast<Builtin*>(pa->fn)->name)
    out += reinterpret_cast<Builtin*>(pa->fn)->name;
  else
    out += "a lambda";
  out += " (";
  put_int(out, pa->h.extra);
  if (p) {
    out += " of ";
    if (p->has_rest) out += "at least ";
    put_int(out, p->nparams);
  }
  out += " arguments";
  if (pa->made.file) {
    out += ", made at ";
    put_loc(out, pa->made);
  }
  out += ')';
}

void print_display(std::string& out, Value v) {
  Printer(out).run(v, false);
  GC_reachable_here(v);  // keeps the whole structure alive while printing
}

void print_repr(std::string& out, Value v) {
  Printer(out).run(v, true);
  GC_reachable_here(v);
}

std::string display_string(Value v) {
  std::string s;
  print_display(s, v);
  return s;
}

std::string repr_string(Value v) {
  std::string s;
  print_repr(s, v);
  return s;
}

}  // namespace valk
