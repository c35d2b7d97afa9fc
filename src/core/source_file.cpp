#include "core/source_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace valk {

bool read_source_file(std::string_view path, std::string& out, std::string& err) {
  std::string p(path);
  if (p.size() != strlen(p.c_str())) {  // fopen would silently stop at the NUL
    err = "invalid path (it contains a NUL byte)";
    return false;
  }
  FILE* f = fopen(p.c_str(), "rb");
  if (!f) {
    err = "cannot open " + p + ": " + strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
    fclose(f);
    err = "cannot load " + p + ": " + (S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    return false;
  }
  out.clear();
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool ok = !ferror(f);
  fclose(f);
  if (!ok) err = "cannot read " + p + ": " + strerror(errno);
  return ok;
}

}  // namespace valk
