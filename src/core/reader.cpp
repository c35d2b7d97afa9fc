// Reader: source text to values (docs/language.md#reading).
//
// Lists are read with an explicit stack of open frames instead of recursion,
// so nesting depth is bounded by memory, not by the C stack. The frames live
// in GC memory: they hold the partial lists, which the collector must see.
#include "core/reader.h"
#include "core/utf8.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace valk {

namespace {

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

bool is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_sym_char(unsigned char c) {
  if (c >= 0x80) return true;  // UTF-8 text is taken as is
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  switch (c) {
    case '_': case '+': case '-': case '*': case '/': case '\\': case '=':
    case '<': case '>': case '!': case '&': case '?': case ':': case '%':
    case '.': case '^': case '$': case '~':
      return true;
    default:
      return false;
  }
}

int hex_val(unsigned char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


// How a character is named in a message: printable ones as themselves,
// control bytes as \xHH so the message stays on one line.
std::string char_name(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, char(c));
  char buf[8];
  snprintf(buf, sizeof buf, "\\x%02X", unsigned(c));
  return buf;
}

// One entry of the reader's stack: an open list, or a prefix (' ` , ,@)
// waiting for the form it applies to.
struct Frame {
  Frame* parent;
  Value head;     // list read so far (kNil when empty)
  Cons* tail;     // its last cell, for O(1) append
  Value prefix;   // prefix frames: the symbol to wrap with
  SrcLoc loc;     // opening bracket or prefix character
  char open;      // '(' '{', or the prefix: ' ` , and @ for ,@
  char close;     // ')' '}' for a list, 0 for a prefix
};

Frame* push_frame(Frame* parent, char open, char close, Value prefix, SrcLoc loc) {
  auto* f = static_cast<Frame*>(gc_alloc(sizeof(Frame)));
  f->parent = parent;
  f->head = kNil;
  f->tail = nullptr;
  f->prefix = prefix;
  f->loc = loc;
  f->open = open;
  f->close = close;
  return f;
}

const char* prefix_text(const Frame* f) {
  switch (f->open) {
    case '\'': return "'";
    case '`': return "`";
    case '@': return ",@";
    default: return ",";
  }
}

}  // namespace

Reader::Reader(std::string_view src, const char* file, LocMap* locs, bool is_file)
    : src_(src), file_(file ? file : intern_filename("<input>")), locs_(locs) {
  // A UTF-8 byte order mark is not part of the program.
  if (src_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  // "#!" on a file's first line makes it runnable as a script. The line's
  // end is left to skip_ws, so the next line is line 2.
  if (is_file && src_.substr(pos_, 2) == "#!") {
    while (pos_ < src_.size() && src_[pos_] != '\n') advance();
  }
}

SrcLoc Reader::here() const { return {file_, line_, col_}; }

// Columns count characters, not bytes: UTF-8 continuation bytes add nothing.
void Reader::advance() {
  unsigned char c = static_cast<unsigned char>(src_[pos_++]);
  if (c == '\n') {
    ++line_;
    col_ = 1;
  } else if ((c & 0xC0) != 0x80) {
    ++col_;
  }
}

void Reader::skip_ws() {
  while (pos_ < src_.size()) {
    unsigned char c = static_cast<unsigned char>(src_[pos_]);
    if (is_ws(c)) {
      advance();
    } else if (c == ';') {
      while (pos_ < src_.size() && src_[pos_] != '\n') advance();
    } else {
      return;
    }
  }
}

bool Reader::at_end() {
  skip_ws();
  return pos_ >= src_.size();
}

Value Reader::fail(SrcLoc at, std::string_view what, bool incomplete) {
  incomplete_ = incomplete;
  std::string msg = at.file;
  msg += ':';
  msg += std::to_string(at.line);
  msg += ':';
  msg += std::to_string(at.col);
  msg += ": ";
  msg += what;
  Value e = make_error(make_string(msg));
  as_error(e)->loc = at;
  return e;
}

Value Reader::read() {
  incomplete_ = false;
  Frame* top = nullptr;
  for (;;) {
    skip_ws();
    if (pos_ >= src_.size()) {
      if (!top) return fail(here(), "unexpected end of input", true);
      // The innermost open construct is the one the input is missing.
      if (top->close)
        return fail(top->loc, std::string("unexpected end of input: '") + top->open +
                                  "' is never closed",
                    true);
      return fail(top->loc,
                  std::string("unexpected end of input after '") + prefix_text(top) + "'",
                  true);
    }
    SrcLoc at = here();
    unsigned char c = static_cast<unsigned char>(src_[pos_]);
    Value v;
    switch (c) {
      case '(':
        advance();
        top = push_frame(top, '(', ')', kNil, at);
        continue;
      case '{':
        advance();
        top = push_frame(top, '{', '}', kNil, at);
        continue;
      case '\'':
        advance();
        top = push_frame(top, '\'', 0, intern("quote"), at);
        continue;
      case '`':
        advance();
        top = push_frame(top, '`', 0, intern("quasiquote"), at);
        continue;
      case ',':
        advance();
        if (pos_ < src_.size() && src_[pos_] == '@') {
          advance();
          top = push_frame(top, '@', 0, intern("unquote-splicing"), at);
        } else {
          top = push_frame(top, ',', 0, intern("unquote"), at);
        }
        continue;
      case ')':
      case '}': {
        if (!top) return fail(at, std::string("unexpected '") + char(c) + "'");
        if (!top->close)
          return fail(at, std::string("expected a form after '") + prefix_text(top) +
                              "', found '" + char(c) + "'");
        if (top->close != char(c))
          return fail(at, std::string("mismatched '") + char(c) + "': '" + top->open +
                              "' opened at " + std::to_string(top->loc.line) + ":" +
                              std::to_string(top->loc.col) + " expects '" + top->close +
                              "'");
        advance();
        v = top->head;
        if (locs_ && v != kNil) (*locs_)[as_cons(v)] = top->loc;
        top = top->parent;
        break;
      }
      case '"':
        v = read_string();
        if (is_error(v)) return v;
        break;
      default:
        if (!is_sym_char(c)) return fail(at, "unexpected character '" + char_name(c) + "'");
        v = read_atom();
        if (is_error(v)) return v;
        break;
    }
    // A complete form: wrap it in any pending prefixes, then hand it to the
    // enclosing list, or return it when nothing is open.
    for (;;) {
      if (!top) return v;
      if (top->close) break;
      v = cons(top->prefix, cons(v, kNil));
      if (locs_) (*locs_)[as_cons(v)] = top->loc;
      top = top->parent;
    }
    Value cell = cons(v, kNil, top->close == '}');
    if (locs_ && is_symbol(v) && !is_keyword(v)) (*locs_)[elem_loc_key(cell)] = at;
    if (top->tail)
      top->tail->cdr = cell;
    else
      top->head = cell;
    top->tail = as_cons(cell);
  }
}

// A maximal run of symbol characters: an integer, a float, a boolean or a
// symbol. Numbers need a digit first (after an optional sign), so `-`, `.5`
// and `1abc` are symbols.
Value Reader::read_atom() {
  SrcLoc at = here();
  size_t start = pos_;
  while (pos_ < src_.size() && is_sym_char(static_cast<unsigned char>(src_[pos_]))) advance();
  std::string_view tok = src_.substr(start, pos_ - start);
  size_t n = tok.size();

  size_t i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
  if (i < n && is_digit(static_cast<unsigned char>(tok[i]))) {
    size_t j = i;
    while (j < n && is_digit(static_cast<unsigned char>(tok[j]))) ++j;
    // from_chars takes '-' but not '+'.
    const char* first = tok.data() + (tok[0] == '+' ? 1 : 0);
    const char* last = tok.data() + n;
    if (j == n) {
      int64_t iv = 0;
      auto r = std::from_chars(first, last, iv);
      if (r.ec != std::errc() || r.ptr != last) return fail(at, "integer literal out of range");
      return make_int(iv);
    }
    size_t k = j;
    bool is_float = false;
    if (k < n && tok[k] == '.') {
      ++k;
      while (k < n && is_digit(static_cast<unsigned char>(tok[k]))) ++k;
      is_float = true;
    }
    if (k < n && (tok[k] == 'e' || tok[k] == 'E')) {
      size_t m = k + 1;
      if (m < n && (tok[m] == '+' || tok[m] == '-')) ++m;
      if (m < n && is_digit(static_cast<unsigned char>(tok[m]))) {
        while (m < n && is_digit(static_cast<unsigned char>(tok[m]))) ++m;
        k = m;
        is_float = true;
      }
    }
    if (is_float && k == n) {
      double d = 0;
      auto r = std::from_chars(first, last, d);
      if (r.ec == std::errc::result_out_of_range) {
        // Too large or too small for a double: strtod gives +-inf or the
        // nearest (sub)normal, as most languages do for such literals.
        std::string copy(first, last);
        d = std::strtod(copy.c_str(), nullptr);
      }
      return make_float(d);
    }
  }
  if (tok == "true") return kTrue;
  if (tok == "false") return kFalse;
  return intern(tok);
}

Value Reader::read_string() {
  SrcLoc at = here();
  advance();  // opening quote
  std::string buf;
  auto unterminated = [&] { return fail(at, "unterminated string", true); };
  for (;;) {
    if (pos_ >= src_.size()) return unterminated();
    char c = src_[pos_];
    if (c == '"') {
      advance();
      return make_string(buf);
    }
    if (c != '\\') {
      buf += c;
      advance();
      continue;
    }
    SrcLoc esc = here();
    advance();
    if (pos_ >= src_.size()) return unterminated();
    char e = src_[pos_];
    advance();
    switch (e) {
      case 'n': buf += '\n'; break;
      case 't': buf += '\t'; break;
      case 'r': buf += '\r'; break;
      case '0': buf += '\0'; break;
      case '\\': buf += '\\'; break;
      case '"': buf += '"'; break;
      case '\'': buf += '\''; break;
      case 'a': buf += '\a'; break;
      case 'b': buf += '\b'; break;
      case 'f': buf += '\f'; break;
      case 'v': buf += '\v'; break;
      case 'e': buf += '\x1b'; break;
      case 'x': {
        int v = 0;
        for (int k = 0; k < 2; ++k) {
          if (pos_ >= src_.size()) return unterminated();
          int h = hex_val(static_cast<unsigned char>(src_[pos_]));
          if (h < 0) return fail(esc, "invalid \\x escape: expected two hex digits");
          v = v * 16 + h;
          advance();
        }
        buf += char(v);
        break;
      }
      case 'u': {
        // Only the braced form is an escape; a bare \u is unknown and kept.
        if (pos_ >= src_.size()) return unterminated();
        if (src_[pos_] != '{') {
          buf += "\\u";
          break;
        }
        advance();
        uint32_t cp = 0;
        int digits = 0;
        for (;;) {
          if (pos_ >= src_.size()) return unterminated();
          char h = src_[pos_];
          if (h == '}') break;
          int hv = hex_val(static_cast<unsigned char>(h));
          if (hv < 0 || digits == 6)
            return fail(esc, "invalid \\u{...} escape: expected 1 to 6 hex digits");
          cp = cp * 16 + uint32_t(hv);
          ++digits;
          advance();
        }
        if (digits == 0) return fail(esc, "invalid \\u{...} escape: expected 1 to 6 hex digits");
        advance();  // closing brace
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
          return fail(esc, "invalid \\u{...} escape: not a Unicode scalar value");
        put_utf8(buf, cp);
        break;
      }
      default:
        // Unknown escapes keep both characters (docs/language.md#reading), so upstream
        // strings such as "(\ {x} x)" read unchanged.
        buf += '\\';
        buf += e;
        break;
    }
  }
}

Value read_all(std::string_view src, const char* file, LocMap* locs, Value* error,
               bool is_file) {
  Reader r(src, file, locs, is_file);
  ListBuilder out(false);
  if (error) *error = kNil;
  while (!r.at_end()) {
    Value v = r.read();
    if (is_error(v)) {
      if (error) *error = v;
      break;
    }
    out.push(v);
  }
  return out.result();
}

}  // namespace valk
