// The interactive REPL: libedit line editing and history.
#pragma once

#include <string>
#include <vector>

#include "core/vm.h"

namespace valk {

int run_repl(VM& vm);
// Binds sys/args (the program's arguments) and sys/program.
void set_program_args(const std::string& file, const std::vector<std::string>& args);

}  // namespace valk
