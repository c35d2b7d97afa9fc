// Small text helpers shared by the HTTP server and client code.
#pragma once

#include <string>
#include <string_view>

#include "core/printer.h"
#include "core/value.h"

namespace valk::http {

// ASCII lower case (HTTP/2 header names are lower case).
inline std::string lower_ascii(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return r;
}

// The value of a hex digit (percent-escapes), or -1.
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A header name or value given as a string, a keyword (without its colon)
// or any other value (its display form).
inline std::string text_of(Value v) {
  if (is_string(v)) return std::string(as_string(v)->view());
  if (is_keyword(v)) return std::string(as_symbol(v)->view().substr(1));
  return display_string(v);
}

}  // namespace valk::http
