// Shared helpers for builtin functions (see builtins.h).
#include "lib/builtins.h"

#include <unordered_set>
#include <utility>
#include <vector>

#include "core/dict.h"
#include "core/printer.h"
#include "core/proto.h"

namespace valk {

void define(const char* name, BuiltinFn fn, int min_args, int max_args, uint16_t intrinsic) {
  as_symbol(intern(name))->global = make_builtin(name, fn, min_args, max_args, intrinsic);
}

void define_value(const char* name, Value v) { as_symbol(intern(name))->global = v; }

Value bad_arg(const char* fn, int index, const char* expected, Value got) {
  // An incoming error travels outward unchanged (docs/language.md#errors-are-values).
  if (is_error(got)) return got;
  return make_errorf("%s: argument %d must be %s, got %s", fn, index + 1, expected,
                     describe_type(got).c_str());
}

std::string display_concat(Value* args, int argc, const char* sep) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) out += sep;
    print_display(out, args[i]);
  }
  return out;
}

}  // namespace valk

namespace valk {

// Mirrors the printer's walk (core/printer.cpp) but only counts, and stops
// once past cap: shared structure prints once per reference, so a small
// value can print as gigabytes.
size_t printed_size_bound(Value root, bool readable, size_t cap) {
  constexpr size_t kOther = 64;  // builtins, handles, ...: short fixed texts
  // Strings and numbers, the common arguments, without the work list.
  if (is_obj(root) && as_obj(root)->type == Type::String)
    return readable ? 4 * as_string(root)->len + 2 : as_string(root)->len;
  if (!is_cons(root) && !is_obj(root)) return 24;
  size_t total = 0;
  std::vector<std::pair<Value, bool>> pending;  // value, readable
  // Dicts on the path, as the printer tracks them: one inside itself prints
  // `...`. kUnbound in pending marks the end of the dict below it.
  std::vector<Value> dicts_open;
  std::unordered_set<Value> dicts_open_set;
  pending.push_back({root, readable});
  while (!pending.empty() && total <= cap) {
    auto [v, rd] = pending.back();
    pending.pop_back();
    if (v == kUnbound) {
      dicts_open_set.erase(dicts_open.back());
      dicts_open.pop_back();
      continue;
    }
    for (;;) {
      if (is_cons(v)) {  // into the element; the rest of the list waits
        total += 2;      // a bracket and a space (or the closing bracket)
        if (cdr(v) != kNil) pending.push_back({cdr(v), rd});
        v = car(v);
        if (total > cap) break;
        continue;
      }
      if (v == kNil || !is_obj(v)) {
        total += 24;
        break;
      }
      switch (as_obj(v)->type) {
        case Type::String: {
          size_t n = as_string(v)->len;
          total += rd ? 4 * n + 2 : n;  // \xHH escapes at worst
          break;
        }
        case Type::Symbol: total += as_symbol(v)->len; break;
        case Type::Error:
          total += 8;
          pending.push_back({as_error(v)->message, false});
          break;
        case Type::Closure:
          total += kOther;
          if (rd && as_closure(v)->proto) {
            pending.push_back({as_closure(v)->proto->formals, true});
            pending.push_back({as_closure(v)->proto->body, true});
          }
          break;
        case Type::Partial:
          total += kOther;
          if (rd) pending.push_back({as_partial(v)->fn, true});
          break;
        case Type::Dict: {
          const Dict* d = as_dict(v);
          total += 8;
          if (!dicts_open_set.insert(v).second) break;
          dicts_open.push_back(v);
          pending.push_back({kUnbound, false});
          for (uint32_t i = 0; i < d->used && total <= cap; ++i) {
            if (d->entries[i].key == kUnbound) continue;
            total += 2;
            pending.push_back({d->entries[i].key, true});
            pending.push_back({d->entries[i].value, true});
          }
          break;
        }
        default: total += kOther; break;
      }
      break;
    }
  }
  return total;
}

Value check_print_room(const char* fn, Value* args, int argc, size_t sep_len) {
  // Most calls print a little: decide those without asking the collector.
  constexpr size_t kSmall = size_t(1) << 20;
  size_t small = uint64_t(argc) * sep_len;
  for (int i = 0; i < argc && small <= kSmall; ++i)
    small += printed_size_bound(args[i], false, kSmall);
  if (small <= kSmall) return kNil;
  size_t room = heap_room();
  size_t need = uint64_t(argc) * sep_len;
  for (int i = 0; i < argc && need <= room; ++i) need += printed_size_bound(args[i], false, room);
  if (need <= room) return kNil;
  return check_room(fn, need, 1);
}

}  // namespace valk
