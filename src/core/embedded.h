// The standard library files (lib/valk/*.valk), compiled into the binary.
#pragma once

namespace valk {
struct EmbeddedFile {
  const char* name;  // e.g. "prelude.valk"
  const char* text;
};
extern const EmbeddedFile kEmbeddedFiles[];  // ends with {nullptr, nullptr}
}  // namespace valk
