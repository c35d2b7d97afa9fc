#include "core/dict.h"

#include <bit>
#include <cmath>
#include <functional>

namespace valk {

namespace {

constexpr int32_t kEmpty = -1;
constexpr int32_t kDeleted = -2;

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Numbers equal across int and float (values_equal compares mixed pairs as
// doubles) must hash alike: integral values exactly representable as a
// double hash as that integer, the rest by the double's bits.
uint64_t hash_number(Value v) {
  constexpr double kExact = 9007199254740992.0;  // 2^53
  double d;
  if (is_int(v)) {
    int64_t i = int_val(v);
    if (i > -(int64_t(1) << 53) && i < (int64_t(1) << 53)) return mix(uint64_t(i));
    d = double(i);
  } else {
    d = float_val(v);
    if (d == 0.0) return mix(0);  // 0.0 and -0.0
    if (std::trunc(d) == d && std::fabs(d) < kExact) return mix(uint64_t(int64_t(d)));
  }
  return mix(std::bit_cast<uint64_t>(d) ^ 0x5bd1e995ULL);
}

uint64_t hash_atom(Value v) {
  if (is_number(v)) return hash_number(v);
  if (is_obj(v)) {
    switch (as_obj(v)->type) {
      case Type::String: return std::hash<std::string_view>{}(as_string(v)->view());
      case Type::Error: return hash_atom(as_error(v)->message) ^ 0xe77;
      case Type::Dict: return mix(as_dict(v)->count ^ 0xd1c7ULL);  // order-free, cheap
      default: break;
    }
  }
  return mix(uint64_t(v));  // immediates, symbols (interned) and identity-compared objects
}

uint32_t index_slot(const Dict* d, uint64_t hash) { return uint32_t(hash) & d->index_mask; }

// Position in entries of key, or -1. *slot_out: its index slot, or the slot
// where it would go (the first deleted slot on the way, else the empty one).
int32_t find(const Dict* d, Value key, uint64_t hash, uint32_t* slot_out) {
  uint32_t slot = index_slot(d, hash);
  int64_t first_deleted = -1;
  for (;;) {
    int32_t e = d->index[slot];
    if (e == kEmpty) {
      if (slot_out) *slot_out = first_deleted >= 0 ? uint32_t(first_deleted) : slot;
      return -1;
    }
    if (e == kDeleted) {
      if (first_deleted < 0) first_deleted = slot;
    } else {
      const DictEntry& en = d->entries[e];
      if (en.hash == hash && (en.key == key || values_equal(en.key, key))) {
        if (slot_out) *slot_out = slot;
        return e;
      }
    }
    slot = (slot + 1) & d->index_mask;
  }
}

// Rebuilds entries (squeezing out deleted ones) with room for at least
// `want` entries, and the index at twice that, rounded to a power of two.
void rebuild(Dict* d, uint32_t want) {
  uint32_t cap = want < 4 ? 4 : want;
  uint32_t slots = std::bit_ceil(cap * 2);
  auto* entries = static_cast<DictEntry*>(gc_alloc(sizeof(DictEntry) * cap));
  auto* index = static_cast<int32_t*>(gc_alloc_atomic(sizeof(int32_t) * slots));
  std::fill(index, index + slots, kEmpty);
  uint32_t n = 0;
  for (uint32_t i = 0; i < d->used; ++i) {
    if (d->entries[i].key == kUnbound) continue;
    entries[n] = d->entries[i];
    uint32_t slot = uint32_t(entries[n].hash) & (slots - 1);
    while (index[slot] != kEmpty) slot = (slot + 1) & (slots - 1);
    index[slot] = int32_t(n);
    ++n;
  }
  d->entries = entries;
  d->index = index;
  d->capacity = cap;
  d->index_mask = slots - 1;
  d->used = n;
}

}  // namespace

uint64_t hash_value(Value v) {
  if (!is_cons(v)) return hash_atom(v);
  // A list hashes from its first elements (nested lists by their first
  // element only): equal lists hash alike, and hashing stays O(1).
  uint64_t h = 0x11c7;
  int n = 0;
  for (Value p = v; is_cons(p) && n < 16; p = cdr(p), ++n) {
    Value x = car(p);
    while (is_cons(x)) x = car(x);
    h = mix(h ^ hash_atom(x)) + uint64_t(n);
  }
  return h;
}

Value make_dict(uint32_t expected) {
  auto* d = static_cast<Dict*>(gc_alloc(sizeof(Dict)));
  d->h = {Type::Dict, 0, 0, 0};
  d->count = d->used = d->capacity = 0;
  d->entries = nullptr;
  d->index = nullptr;
  d->index_mask = 0;
  rebuild(d, expected);
  return obj_val(d);
}

Value dict_get(const Dict* d, Value key) {
  if (d->count == 0) return kUnbound;
  int32_t e = find(d, key, hash_value(key), nullptr);
  return e < 0 ? kUnbound : d->entries[e].value;
}

void dict_set(Dict* d, Value key, Value value) {
  uint64_t h = hash_value(key);
  uint32_t slot;
  int32_t e = find(d, key, h, &slot);
  if (e >= 0) {
    d->entries[e].value = value;
    return;
  }
  if (d->used == d->capacity) {
    // Grow when mostly live; otherwise the rebuild only squeezes out holes.
    rebuild(d, d->count >= d->capacity / 2 ? d->capacity * 2 : d->capacity);
    find(d, key, h, &slot);
  }
  if (d->used >= uint32_t(INT32_MAX)) return;  // unreachable under the heap limit
  d->entries[d->used] = {key, value, h};
  d->index[slot] = int32_t(d->used);
  ++d->used;
  ++d->count;
}

bool dict_del(Dict* d, Value key) {
  if (d->count == 0) return false;
  uint32_t slot;
  int32_t e = find(d, key, hash_value(key), &slot);
  if (e < 0) return false;
  d->index[slot] = kDeleted;
  d->entries[e] = {kUnbound, kNil, 0};
  --d->count;
  if (d->count == 0) rebuild(d, 0);  // an emptied dict drops its deleted slots
  return true;
}

Value dict_copy(const Dict* d) {
  Value out = make_dict(d->count);
  dict_for_each(d, [&](Value k, Value v) { dict_set(as_dict(out), k, v); });
  return out;
}

}  // namespace valk
