// Reading program files (valk FILE, load): regular files only, whole.
#pragma once

#include <string>
#include <string_view>

namespace valk {

// Reads the file at path into out. On failure returns false with a message
// such as "cannot open x.valk: No such file or directory" in err.
bool read_source_file(std::string_view path, std::string& out, std::string& err);

}  // namespace valk
