// Printer: the display form (print, str) and the readable form (REPL).
#pragma once

#include <string>

#include "core/value.h"

namespace valk {

// Display: strings raw, keywords with their colon, nil as (), errors as
// "Error: msg". Used by print and str.
void print_display(std::string& out, Value v);
// Readable: strings quoted with escapes, errors as Error["msg"]. Used by the
// REPL and by -e.
void print_repr(std::string& out, Value v);

std::string display_string(Value v);
// "file:line:col" of a located source position (loc.file must be set).
void put_loc(std::string& out, const SrcLoc& loc);
// "partial application of add (1 of 2 arguments, made at m.valk:4:20)".
void describe_partial(std::string& out, const Partial* p);
std::string repr_string(Value v);

}  // namespace valk
