// Reader: source text to values (docs/language.md#reading). Iterative, so deeply nested input
// cannot exhaust the C stack; every error names file:line:col.
#pragma once

#include <string_view>
#include <unordered_map>

#include "core/value.h"

namespace valk {

// Where each list in the source started: key is the list's first cell with
// the tag bits cleared (as_cons(list)), value the position of its opening
// bracket. Only the compiler reads it, while the forms are alive.
// A symbol inside a list is recorded too, under elem_loc_key(cell) of the
// cell that holds it, so errors about it (unbound) point at the symbol.
using LocMap = std::unordered_map<const Cons*, SrcLoc>;
inline const Cons* elem_loc_key(Value cell) {
  return reinterpret_cast<const Cons*>(reinterpret_cast<uintptr_t>(as_cons(cell)) | 1);
}

class Reader {
 public:
  // is_file: src is a whole file's text, whose "#!" first line (a script's
  // interpreter line) is skipped; line numbers count it.
  Reader(std::string_view src, const char* file, LocMap* locs = nullptr, bool is_file = false);

  // Skips whitespace and comments; true when nothing but them is left.
  bool at_end();
  // Reads one form. On bad input returns an Error value (is_error) whose
  // message is "file:line:col: what went wrong" and whose loc is set;
  // incomplete() then tells whether the input merely ended too early.
  Value read();
  bool incomplete() const { return incomplete_; }
  SrcLoc here() const;

 private:
  std::string_view src_;
  const char* file_;
  LocMap* locs_;
  size_t pos_ = 0;
  uint32_t line_ = 1, col_ = 1;
  bool incomplete_ = false;
  void advance();
  void skip_ws();
  Value fail(SrcLoc at, std::string_view what, bool incomplete = false);
  Value read_atom();
  Value read_string();
};

// Reads every form of a source text. Stops at the first read error, which is
// returned in *error (kNil when none). is_file: as for Reader.
Value read_all(std::string_view src, const char* file, LocMap* locs, Value* error,
               bool is_file = false);

}  // namespace valk
