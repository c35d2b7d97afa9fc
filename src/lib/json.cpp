// json/parse, json/encode and json/null (docs/language.md#json).
//
// Parsing runs nlohmann-json's SAX parser, which is iterative (any nesting
// depth leaves the C stack alone) and validates UTF-8; the handler below
// builds Valkyria values as the events arrive, with no intermediate DOM.
//
// Encoding is written by hand into one std::string: nlohmann's dump() would
// need its DOM built first (a second copy of the whole value, and a
// recursive walk). The encoder keeps its own stack, so a list nested a
// million deep encodes without touching the C stack, and a set of the dicts
// on the current path turns a dict that contains itself into an error.
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/utf8.h"
#include "core/dict.h"
#include "core/gc.h"
#include "lib/builtins.h"

namespace valk {

namespace {

// ---- json/null ----------------------------------------------------------------

const OpaqueClass kJsonNullClass = {"json-null", [](std::string& out, const Opaque*) {
                                      out += "json/null";
                                    }};
Value g_json_null = kNil;  // the one instance (static data is a root)

bool is_json_null(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kJsonNullClass;
}

// ---- parsing ------------------------------------------------------------------

using Json = nlohmann::json;

// Builds values from SAX events. Open containers live in a traced vector
// (the collector must see them); the finished top-level value in `result`.
class Builder {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  Value result = kUnbound;
  // Set by parse_error.
  size_t error_pos = 0;
  std::string error_what;

  bool null() { return add(g_json_null); }
  bool boolean(bool b) { return add(make_bool(b)); }
  bool number_integer(number_integer_t i) { return add(make_int(i)); }
  bool number_unsigned(number_unsigned_t u) {
    // Past int64: a float, as for integers past 64 bits.
    return add(u <= uint64_t(INT64_MAX) ? make_int(int64_t(u)) : make_float(double(u)));
  }
  bool number_float(number_float_t d, const string_t&) { return add(make_float(d)); }
  bool string(string_t& s) { return add(make_string(s)); }
  bool binary(binary_t&) { return false; }  // not produced by the JSON format
  bool start_object(std::size_t) {
    stack_.push_back({make_dict(), nullptr, kNil, true});
    return true;
  }
  bool key(string_t& s) {
    stack_.back().key = make_string(s);
    return true;
  }
  bool end_object() {
    Value d = stack_.back().container;
    stack_.pop_back();
    return add(d);
  }
  bool start_array(std::size_t) {
    stack_.push_back({kNil, nullptr, kNil, false});
    return true;
  }
  bool end_array() {
    Value l = stack_.back().container;
    stack_.pop_back();
    return add(l);
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) {
    error_pos = pos;
    error_what = ex.what();
    return false;
  }

 private:
  struct Open {
    Value container;  // a Dict, or the head of the list so far (nil: empty)
    Cons* tail;       // the list's last cell
    Value key;        // an object's key waiting for its value
    bool object;
  };
  TracedVector<Open> stack_;

  bool add(Value v) {
    if (stack_.empty()) {
      result = v;
      return true;
    }
    Open& o = stack_.back();
    if (o.object) {
      dict_set(as_dict(o.container), o.key, v);  // a repeated key: the last value wins
      o.key = kNil;
    } else {
      Value cell = cons(v, kNil, true);
      if (o.tail)
        o.tail->cdr = cell;
      else
        o.container = cell;
      o.tail = as_cons(cell);
    }
    return true;
  }
};

// nlohmann's token names, as a reader of the message would say them.
std::string token_name(std::string_view t) {
  if (t == "'[', '{', or a literal") return "a value";
  if (t == "string literal") return "a string";
  if (t == "number literal") return "a number";
  if (t == "true literal") return "true";
  if (t == "false literal") return "false";
  if (t == "null literal") return "null";
  return std::string(t);
}

// "[json.exception.parse_error.101] parse error at line 1, column 8: syntax
// error while parsing value - unexpected '}'; expected '[', '{', or a literal"
// becomes "expected a value, got '}'"; a lexer's complaint ("invalid string:
// ill-formed UTF-8 byte; last read: '...'") is kept, the token text left out.
std::string readable_parse_error(const std::string& what) {
  std::string_view w = what;
  size_t p = w.find(": syntax error ");
  if (p == std::string_view::npos) {  // e.g. out_of_range.406 "number overflow parsing '1e999'"
    size_t b = w.find("] ");
    return std::string(b == std::string_view::npos ? w : w.substr(b + 2));
  }
  std::string_view rest = w.substr(p + 15);
  bool key_context = rest.starts_with("while parsing object key");
  size_t dash = rest.find("- ");
  if (dash != std::string_view::npos) rest = rest.substr(dash + 2);
  if (rest.starts_with("unexpected ")) {
    rest.remove_prefix(11);
    size_t e = rest.find("; expected ");
    std::string got = token_name(rest.substr(0, e));
    if (e == std::string_view::npos) return "unexpected " + got;
    std::string expected = token_name(rest.substr(e + 11));
    if (key_context && expected == "a string") expected = "a string (an object key)";
    return "expected " + expected + ", got " + got;
  }
  // The lexer's own message; nlohmann's "last read" text is left out (for
  // a string it is the whole string so far, and not always the culprit).
  size_t lr = rest.find("; last read: '");
  if (lr == std::string_view::npos) return std::string(rest);
  std::string msg(rest.substr(0, lr));
  size_t e = rest.rfind("; expected ");
  if (e != std::string_view::npos && e > lr) msg += "; expected " + token_name(rest.substr(e + 11));
  return msg;
}

// Collection paused while a document is parsed: nearly everything allocated
// then is the result, which stays live, so collections in between would
// only mark it again and again (a third of the time of a 10 MB document).
struct GcPause {
  GcPause() { GC_disable(); }
  ~GcPause() { GC_enable(); }
  GcPause(const GcPause&) = delete;
  GcPause& operator=(const GcPause&) = delete;
};

Value parse(const String* s) {
  Builder b;
  bool ok = Json::sax_parse(s->data, s->data + s->len, &b, nlohmann::json::input_format_t::json,
                            /*strict=*/true, /*ignore_comments=*/false);
  if (ok && b.result != kUnbound) return b.result;
  // nlohmann's position counts the bytes read, the offending one included.
  size_t at = b.error_pos > 0 ? b.error_pos - 1 : 0;
  if (at > s->len) at = s->len;
  std::string msg = readable_parse_error(b.error_what);
  return make_errorf("json/parse: at byte %zu: %s", at, msg.c_str());
}

Value b_parse(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "json/parse", 0, "a string");
  const String* s = as_string(args[0]);
  Value r;
  try {
    GcPause pause;
    r = parse(s);
  } catch (const HeapExhausted&) {
    // Under the heap limit without collecting: once more, collecting as usual
    // (a failure then is the builtin's out-of-memory error).
    r = parse(s);
  }
  GC_reachable_here(args[0]);
  return r;
}

// ---- encoding -----------------------------------------------------------------


// Bytes a JSON string may hold as they are: not '"', '\\' or a control byte.
struct PlainTable {
  bool plain[256];
  constexpr PlainTable() : plain() {
    for (int c = 0; c < 256; ++c) plain[c] = c >= 0x20 && c != '"' && c != '\\';
  }
};
constexpr PlainTable kPlain;

void put_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    const char* run = p;
    while (p < end && kPlain.plain[static_cast<unsigned char>(*p)]) ++p;
    out.append(run, size_t(p - run));
    if (p == end) break;
    unsigned char c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(u, 6);
      }
    }
  }
  out += '"';
}

// Shortest text that reads back as the same double, with a '.' or an
// exponent so that it reads back as a float (json/parse makes "1" an integer).
// Plain digits for exponents -4 to 15, else scientific, as Python's repr:
// 0.0006 and 1e+16, where the shortest text alone would be 6e-04.
bool put_json_float(std::string& out, double d) {
  if (!std::isfinite(d)) return false;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view t(buf, size_t(r.ptr - buf));
  int exp = 0;
  size_t e = t.find('e');
  std::from_chars(t.data() + e + (t[e + 1] == '+' ? 2 : 1), t.data() + t.size(), exp);
  if (exp >= -4 && exp < 16) {
    r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
    t = std::string_view(buf, size_t(r.ptr - buf));
    out += t;
    if (t.find('.') == std::string_view::npos) out += ".0";
  } else {
    out += t;
  }
  return true;
}

void put_json_int(std::string& out, int64_t i) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, r.ptr);
}

class Encoder {
 public:
  explicit Encoder(bool pretty) : pretty_(pretty) {}

  // The JSON text of v in `out`, or an error value.
  Value run(Value v, std::string& out) {
    out_ = &out;
    if (!value(v)) return err_;
    while (!stack_.empty()) {
      if (out.size() >= next_check_ && !room_ok()) return err_;
      Frame& f = stack_.back();
      switch (f.kind) {
        case kArray: {
          if (!is_cons(f.rest)) {
            close(']');
            break;
          }
          Value e = car(f.rest);
          f.rest = cdr(f.rest);
          separator();
          if (!value(e)) return err_;
          break;
        }
        case kPlist: {
          if (!is_cons(f.rest)) {
            close('}');
            break;
          }
          Value k = car(f.rest), e = car(cdr(f.rest));
          f.rest = cdr(cdr(f.rest));
          separator();
          put_json_string(out, as_symbol(k)->view().substr(1));
          colon();
          if (!value(e)) return err_;
          break;
        }
        case kDict: {
          const Dict* d = f.dict;
          while (f.next < d->used && d->entries[f.next].key == kUnbound) ++f.next;
          if (f.next >= d->used) {
            open_dicts_.erase(d);
            close('}');
            break;
          }
          const DictEntry& en = d->entries[f.next++];
          separator();
          if (!key(en.key)) return err_;
          colon();
          if (!value(en.value)) return err_;
          break;
        }
      }
    }
    if (!room_ok()) return err_;
    return kNil;
  }

 private:
  enum Kind : uint8_t { kArray, kPlist, kDict };
  struct Frame {
    Kind kind;
    bool first;
    uint32_t next;   // kDict: the next entry position
    Value rest;      // kArray, kPlist: the cells still to write
    const Dict* dict;
  };
  // The values are all reachable from the argument, and nothing is
  // allocated on the heap while encoding: a plain vector is enough.
  std::vector<Frame> stack_;
  std::unordered_set<const Dict*> open_dicts_;
  std::string* out_ = nullptr;
  bool pretty_;
  Value err_ = kNil;
  size_t next_check_ = size_t(1) << 20;

  bool fail(Value e) {
    err_ = e;
    return false;
  }

  // The result must fit under the heap limit, where it is copied at the end.
  bool room_ok() {
    Value e = check_room("json/encode", out_->size(), 1);
    if (e != kNil) return fail(e);
    next_check_ = out_->size() + std::max<size_t>(size_t(1) << 20, out_->size() / 4);
    return true;
  }

  void newline(size_t depth) {
    *out_ += '\n';
    out_->append(2 * depth, ' ');
  }
  void separator() {
    Frame& f = stack_.back();
    if (!f.first) *out_ += ',';
    f.first = false;
    if (pretty_) newline(stack_.size());
  }
  void colon() {
    if (pretty_)
      out_->append(": ", 2);
    else
      *out_ += ':';
  }
  void close(char c) {
    bool empty = stack_.back().first;
    stack_.pop_back();
    if (pretty_ && !empty) newline(stack_.size());
    *out_ += c;
  }

  bool string(Value s) {
    std::string_view v = as_string(s)->view();
    size_t bad = utf8_invalid_at(v);
    if (bad != std::string_view::npos)
      return fail(make_errorf("json/encode: a string is not valid UTF-8 (at byte %zu of %zu)", bad,
                              v.size()));
    put_json_string(*out_, v);
    return true;
  }

  bool key(Value k) {
    if (is_string(k)) return string(k);
    if (is_keyword(k)) {
      put_json_string(*out_, as_symbol(k)->view().substr(1));
      return true;
    }
    if (is_int(k)) {
      *out_ += '"';
      put_json_int(*out_, int_val(k));
      *out_ += '"';
      return true;
    }
    if (is_float(k)) {
      *out_ += '"';
      if (!put_json_float(*out_, float_val(k)))
        return fail(make_error("json/encode: a float key must be finite, got nan or inf"));
      *out_ += '"';
      return true;
    }
    return fail(make_errorf("json/encode: a dict key must be a string, keyword or number, got %s",
                            type_name(k)));
  }

  bool value(Value v) {
    std::string& out = *out_;
    if (is_fix(v)) {
      put_json_int(out, fix_val(v));
      return true;
    }
    if (v == kNil) {
      out += "[]";
      return true;
    }
    if (v == kTrue) {
      out += "true";
      return true;
    }
    if (v == kFalse) {
      out += "false";
      return true;
    }
    if (is_cons(v)) return list(v);
    if (!is_obj(v)) return fail(make_errorf("json/encode: cannot encode a value of type %s", type_name(v)));
    switch (as_obj(v)->type) {
      case Type::Int: put_json_int(out, int_val(v)); return true;
      case Type::Float:
        if (!put_json_float(out, float_val(v)))
          return fail(make_errorf("json/encode: %s is not a JSON number",
                                  std::isnan(float_val(v)) ? "nan" : float_val(v) < 0 ? "-inf" : "inf"));
        return true;
      case Type::String: return string(v);
      case Type::Symbol:
        if (is_keyword(v)) {
          put_json_string(out, as_symbol(v)->view().substr(1));
          return true;
        }
        return fail(make_errorf("json/encode: cannot encode the symbol `%.*s` (a keyword or string can be)",
                                int(std::min<size_t>(as_symbol(v)->len, 100)), as_symbol(v)->name));
      case Type::Error: return fail(v);
      case Type::Dict: {
        const Dict* d = as_dict(v);
        if (!open_dicts_.insert(d).second)
          return fail(make_error("json/encode: cyclic: a dict contains itself"));
        out += '{';
        stack_.push_back({kDict, true, 0, kNil, d});
        return true;
      }
      case Type::Opaque:
        if (is_json_null(v)) {
          out += "null";
          return true;
        }
        [[fallthrough]];
      default:
        return fail(make_errorf("json/encode: cannot encode a value of type %s", type_name(v)));
    }
  }

  // A list of even length whose elements at even positions (0, 2, ...) are
  // all keywords is a plist: an object. Any other list is an array.
  bool list(Value v) {
    size_t n = 0;
    bool plist = true;
    Value p = v;
    for (; is_cons(p); p = cdr(p), ++n)
      if (n % 2 == 0 && plist && !is_keyword(car(p))) plist = false;
    if (p != kNil) return fail(make_error("json/encode: cannot encode an improper list"));
    plist = plist && n % 2 == 0;
    *out_ += plist ? '{' : '[';
    stack_.push_back({plist ? kPlist : kArray, true, 0, v, nullptr});
    return true;
  }
};

bool option_set(Value opts, const char* name) {
  Value k = intern(name);
  Value v = is_dict(opts) ? dict_get(as_dict(opts), k) : plist_lookup(opts, k);
  return v != kUnbound && truthy(v);
}

// (json/encode v [opts]): opts is a plist or dict; :pretty true indents by two spaces.
Value b_encode(VM&, Value* args, int argc) {
  bool pretty = false;
  if (argc > 1) {
    VALK_CHECK(is_list(args[1]) || is_dict(args[1]), "json/encode", 1, "a plist or dict of options");
    pretty = option_set(args[1], ":pretty");
  }
  std::string out;
  Encoder enc(pretty);
  Value e = enc.run(args[0], out);
  GC_reachable_here(args[0]);
  if (e != kNil) return e;
  return make_string(out);
}

}  // namespace

void open_json(VM&) {
  if (g_json_null == kNil) g_json_null = make_opaque(&kJsonNullClass, nullptr);
  define_value("json/null", g_json_null);
  define("json/parse", guarded<b_parse>, 1, 1);
  define("json/encode", guarded<b_encode>, 1, 2);
}

}  // namespace valk
