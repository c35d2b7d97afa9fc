// Regular expressions on PCRE2 (docs/language.md#regular-expressions): re/match,
// re/find-all, re/replace, re/split. The pattern always comes first.
//
// Patterns are compiled in UTF mode (and JIT-compiled where the platform has a
// JIT), once: a cache keyed by the pattern's text keeps the last kCacheSize of
// them, least recently used out first. PCRE2's memory is malloc'd and owned by
// the cache; results are copied into GC strings. Subjects are checked for
// valid UTF-8 here, once per call, so that PCRE2 never re-checks them (a
// find-all over a large string makes one pcre2_match call per match).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstring>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/utf8.h"
#include "core/printer.h"
#include "lib/builtins.h"

namespace valk {
namespace {

constexpr size_t kCacheSize = 256;
constexpr uint32_t kMatchLimit = 10'000'000;   // backtracking steps per pcre2_match call
constexpr uint32_t kDepthLimit = 10'000'000;    // nested backtracking points (interpreter)
constexpr uint32_t kHeapLimitKiB = 128 * 1024;  // the interpreter's backtracking memory
constexpr size_t kJitStackMax = size_t(32) << 20;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof buf);
  if (n < 0) return "error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buf), size_t(n));
}

// A string argument as quoted in an error message; a long one is cut short.
std::string shown(Value s) {
  std::string out;
  print_repr(out, s);
  if (out.size() > 120) {
    size_t cut = 100;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "\"...";
  }
  return out;
}

struct Compiled {
  pcre2_code* code;
  pcre2_match_data* md;  // sized for the pattern's groups, reused by every call
  uint32_t groups;       // capture groups
};

// The pattern cache and the match context of this thread.
class Regexes {
 public:
  ~Regexes() {
    for (auto& e : lru_) release(e.second);
    if (mctx_) pcre2_match_context_free(mctx_);
    if (jit_stack_) pcre2_jit_stack_free(jit_stack_);
  }

  // The compiled pattern, or nullptr with *err set to the error to return.
  Compiled* get(const char* fn, Value pattern, Value* err) {
    std::string_view key = as_string(pattern)->view();
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
      return &it->second->second;
    }
    int code;
    PCRE2_SIZE offset;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(key.data()), key.size(), PCRE2_UTF,
                                   &code, &offset, nullptr);
    if (!re) {
      std::string msg = std::string(fn) + ": bad pattern " + shown(pattern);
      msg += ": " + pcre2_message(code) + " at offset " + std::to_string(offset);
      *err = make_error(msg);
      return nullptr;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // the interpreter runs it when this fails
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (!md) {
      pcre2_code_free(re);
      throw std::bad_alloc();
    }
    if (lru_.size() >= kCacheSize) {
      index_.erase(std::string_view(lru_.back().first));
      release(lru_.back().second);
      lru_.pop_back();
    }
    lru_.emplace_front(std::string(key), Compiled{re, md, groups});
    index_.emplace(std::string_view(lru_.front().first), lru_.begin());
    return &lru_.front().second;
  }

  pcre2_match_context* context() {
    if (!mctx_) {
      mctx_ = pcre2_match_context_create(nullptr);
      if (!mctx_) throw std::bad_alloc();
      pcre2_set_match_limit(mctx_, kMatchLimit);
      pcre2_set_depth_limit(mctx_, kDepthLimit);
      pcre2_set_heap_limit(mctx_, kHeapLimitKiB);
      jit_stack_ = pcre2_jit_stack_create(32 * 1024, kJitStackMax, nullptr);
      if (jit_stack_) pcre2_jit_stack_assign(mctx_, nullptr, jit_stack_);
    }
    return mctx_;
  }

  size_t size() const { return lru_.size(); }

 private:
  static void release(Compiled& c) {
    pcre2_match_data_free(c.md);
    pcre2_code_free(c.code);
  }
  using Entry = std::pair<std::string, Compiled>;
  std::list<Entry> lru_;
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  pcre2_match_context* mctx_ = nullptr;
  pcre2_jit_stack* jit_stack_ = nullptr;
};

Regexes& regexes() {
  static thread_local Regexes r;
  return r;
}


// kNil when args[i] is a string of valid UTF-8, else the error.
Value check_text(const char* fn, Value* args, int i) {
  VALK_CHECK(is_string(args[i]), fn, i, "a string");
  size_t bad = utf8_invalid_at(as_string(args[i])->view());
  if (bad == std::string_view::npos) return kNil;
  return make_errorf("%s: argument %d is not valid UTF-8 (at byte %zu)", fn, i + 1, bad);
}

// Checks the pattern and subject arguments; returns the compiled pattern or
// nullptr with *err set.
Compiled* prepare(const char* fn, Value* args, Value* err) {
  if (!is_string(args[0])) {
    *err = bad_arg(fn, 0, "a pattern string", args[0]);
    return nullptr;
  }
  if (Value e = check_text(fn, args, 1); e != kNil) {
    *err = e;
    return nullptr;
  }
  return regexes().get(fn, args[0], err);
}

// pcre2_match, falling back to the interpreter (its backtracking memory is
// the heap, up to kHeapLimitKiB) when the JIT's stack is too small.
int run_match(Compiled& re, std::string_view s, PCRE2_SIZE start, uint32_t opts) {
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(s.data());
  pcre2_match_context* mctx = regexes().context();
  int rc = pcre2_match(re.code, subj, s.size(), start, opts | PCRE2_NO_UTF_CHECK, re.md, mctx);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
    rc = pcre2_match(re.code, subj, s.size(), start, opts | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                     re.md, mctx);
  return rc;
}

Value match_failure(const char* fn, int rc) {
  return make_error(std::string(fn) + ": matching failed: " + pcre2_message(rc));
}

// Calls each(start, end) for every match of re in s, left to right, the way
// Python's re.finditer does: an empty match is allowed right after a
// non-empty one, and after an empty match the search goes on from the same
// place wanting a non-empty match there (PCRE2 then moves on a character at a
// time). Returns kNil or the error.
template <class Each>
Value for_each_match(const char* fn, Compiled& re, std::string_view s, Each each) {
  PCRE2_SIZE start = 0;
  uint32_t opts = 0;
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(re.md);
  for (;;) {
    int rc = run_match(re, s, start, opts);
    if (rc == PCRE2_ERROR_NOMATCH) return kNil;
    if (rc < 0) return match_failure(fn, rc);
    PCRE2_SIZE ms = ov[0], me = ov[1];
    if (ms > me || me < start)  // \K inside a lookaround: no progress to be had
      return make_errorf("%s: a match that ends before it starts (\\K in a lookaround) is not supported",
                         fn);
    each(size_t(ms), size_t(me));
    opts = ms == me ? PCRE2_NOTEMPTY_ATSTART : 0;
    start = me;
    if (start > s.size()) return kNil;
  }
}

// (re/match pat s): the first match as {whole group1 ...}, nil for an unset
// group; nil when nothing matches.
Value b_match(VM&, Value* args, int) {
  Value err = kNil;
  Compiled* re = prepare("re/match", args, &err);
  if (!re) return err;
  std::string_view s = as_string(args[1])->view();
  int rc = run_match(*re, s, 0, 0);
  if (rc == PCRE2_ERROR_NOMATCH) return kNil;
  if (rc < 0) return match_failure("re/match", rc);
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(re->md);
  ListBuilder lb(true);
  for (uint32_t g = 0; g <= re->groups; ++g) {
    bool set = int(g) < rc && ov[2 * g] != PCRE2_UNSET && ov[2 * g] <= ov[2 * g + 1];
    lb.push(set ? make_string(s.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g])) : kNil);
  }
  return lb.result();
}

// (re/find-all pat s): every whole match, as strings.
Value b_find_all(VM&, Value* args, int) {
  Value err = kNil;
  Compiled* re = prepare("re/find-all", args, &err);
  if (!re) return err;
  std::string_view s = as_string(args[1])->view();
  ListBuilder lb(true);
  err = for_each_match("re/find-all", *re, s,
                       [&](size_t ms, size_t me) { lb.push(make_string(s.substr(ms, me - ms))); });
  return err != kNil ? err : lb.result();
}

// (re/split pat s): the pieces between the matches (n matches: n+1 pieces).
Value b_split(VM&, Value* args, int) {
  Value err = kNil;
  Compiled* re = prepare("re/split", args, &err);
  if (!re) return err;
  std::string_view s = as_string(args[1])->view();
  ListBuilder lb(true);
  size_t from = 0;
  err = for_each_match("re/split", *re, s, [&](size_t ms, size_t me) {
    lb.push(make_string(s.substr(from, ms - from)));
    from = me;
  });
  if (err != kNil) return err;
  lb.push(make_string(s.substr(from)));
  return lb.result();
}

bool replacement_error(int rc) {
  switch (rc) {
    case PCRE2_ERROR_BADREPLACEMENT:
    case PCRE2_ERROR_BADREPESCAPE:
    case PCRE2_ERROR_REPMISSINGBRACE:
    case PCRE2_ERROR_BADSUBSTITUTION:
    case PCRE2_ERROR_BADSUBSPATTERN:
    case PCRE2_ERROR_NOSUBSTRING:
      return true;
    default:
      return false;
  }
}

// (re/replace pat s replacement): every match replaced; $1, ${1}, ${name}
// and $$ in the replacement (pcre2_substitute).
Value b_replace(VM&, Value* args, int) {
  const char* fn = "re/replace";
  Value err = kNil;
  Compiled* re = prepare(fn, args, &err);
  if (!re) return err;
  if (Value e = check_text(fn, args, 2); e != kNil) return e;
  std::string_view s = as_string(args[1])->view(), r = as_string(args[2])->view();
  uint32_t opts = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
                  PCRE2_SUBSTITUTE_UNSET_EMPTY | PCRE2_NO_UTF_CHECK;
  std::string out(s.size() + s.size() / 4 + 64, '\0');
  int rc;
  PCRE2_SIZE len;
  for (int attempt = 0;; ++attempt) {
    len = out.size();
    rc = pcre2_substitute(re->code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, opts,
                          re->md, regexes().context(), reinterpret_cast<PCRE2_SPTR>(r.data()),
                          r.size(), reinterpret_cast<PCRE2_UCHAR*>(out.data()), &len);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !(opts & PCRE2_NO_JIT)) {
      opts |= PCRE2_NO_JIT;  // the interpreter's backtracking memory is the heap
      --attempt;
      continue;
    }
    if (rc != PCRE2_ERROR_NOMEMORY || attempt > 0) break;
    // len is the size needed (with the terminating zero): make room, go again.
    if (Value e = check_room(fn, len, 1); e != kNil) return e;
    out.resize(len);
  }
  if (rc < 0) {
    if (replacement_error(rc)) {
      std::string msg = std::string(fn) + ": bad replacement " + shown(args[2]);
      msg += ": " + pcre2_message(rc) + " at offset " + std::to_string(len);
      return make_error(msg);
    }
    return match_failure(fn, rc);
  }
  if (rc == 0) return args[1];  // no match: the subject itself
  return make_string(std::string_view(out.data(), len));
}

// (%re/cache-size): patterns in this thread's cache (for the tests).
Value b_cache_size(VM&, Value*, int) { return make_int(int64_t(regexes().size())); }

}  // namespace

void open_regex(VM&) {
  define("re/match", guarded<b_match>, 2, 2);
  define("re/find-all", guarded<b_find_all>, 2, 2);
  define("re/replace", guarded<b_replace>, 3, 3);
  define("re/split", guarded<b_split>, 2, 2);
  define("%re/cache-size", guarded<b_cache_size>, 0, 0);
}

}  // namespace valk
