// Dicts: the hash-map value (docs/language.md#dicts).
//
// Keys are any value, compared with values_equal (structural, numbers by
// value, so 1 and 1.0 are one key), hashed consistently with it. Entries keep
// insertion order (keys, values, printing and JSON output follow it), as in
// Python's dict and JavaScript's Map: a dense entry array plus an open-
// addressing index of entry positions. Deleting leaves a hole in the entry
// array, squeezed out when the table is rebuilt.
#pragma once

#include <cstdint>

#include "core/value.h"

namespace valk {

struct DictEntry {
  Value key;    // kUnbound: a deleted entry
  Value value;
  uint64_t hash;
};

struct Dict {
  ObjHeader h;
  uint32_t count;      // live entries
  uint32_t used;       // entries[0..used) hold live or deleted entries
  uint32_t capacity;   // room in entries
  uint32_t index_mask; // index has index_mask + 1 slots (a power of two)
  DictEntry* entries;  // traced GC memory
  int32_t* index;      // pointer-free GC memory: -1 empty, -2 deleted, else entry position
};

inline bool is_dict(Value v) { return has_type(v, Type::Dict); }
inline Dict* as_dict(Value v) { return reinterpret_cast<Dict*>(v); }

Value make_dict(uint32_t expected = 0);
// The value for key, or kUnbound.
Value dict_get(const Dict* d, Value key);
void dict_set(Dict* d, Value key, Value value);
bool dict_del(Dict* d, Value key);  // true when the key was there
Value dict_copy(const Dict* d);

// Visits live entries in insertion order.
template <class F>
void dict_for_each(const Dict* d, F&& f) {
  for (uint32_t i = 0; i < d->used; ++i)
    if (d->entries[i].key != kUnbound) f(d->entries[i].key, d->entries[i].value);
}

// Hash consistent with values_equal(a, b, false): equal values hash alike.
uint64_t hash_value(Value v);

}  // namespace valk
