// Serving files over HTTP (see static_files.h).
#include "http/static_files.h"

#include "http/text.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace valk::http {

namespace {

std::string_view header(const HeaderList& hs, std::string_view name) {
  for (auto& [n, v] : hs)
    if (n == name) return v;
  return {};
}

bool lower_ends_with(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char c = s[s.size() - suffix.size() + i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

// Parses "bytes=a-b" | "bytes=a-" | "bytes=-n" for a file of `size` bytes.
// 1: a satisfiable range; 0: unsatisfiable (416); -1: not a single byte
// range we serve (the whole file is sent instead, as RFC 9110 allows).
int parse_range(std::string_view r, int64_t size, int64_t& from, int64_t& to) {
  if (r.substr(0, 6) != "bytes=") return -1;
  r.remove_prefix(6);
  if (r.find(',') != std::string_view::npos) return -1;  // several ranges: the whole file
  size_t dash = r.find('-');
  if (dash == std::string_view::npos) return -1;
  auto num = [](std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  std::string_view a = r.substr(0, dash), b = r.substr(dash + 1);
  if (a.empty()) {  // the last n bytes
    int64_t n;
    if (!num(b, n)) return -1;
    if (n == 0 || size == 0) return 0;
    from = n >= size ? 0 : size - n;
    to = size - 1;
    return 1;
  }
  if (!num(a, from)) return -1;
  if (b.empty()) to = size - 1;
  else if (!num(b, to) || to < from) return -1;
  if (from >= size) return 0;
  if (to >= size) to = size - 1;
  return 1;
}

}  // namespace

const char* mime_type(std::string_view path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"}, {".csv", "text/csv; charset=utf-8"},
      {".xml", "application/xml"},           {".svg", "image/svg+xml"},
      {".png", "image/png"},                 {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},               {".gif", "image/gif"},
      {".webp", "image/webp"},               {".ico", "image/x-icon"},
      {".avif", "image/avif"},               {".wasm", "application/wasm"},
      {".pdf", "application/pdf"},           {".zip", "application/zip"},
      {".gz", "application/gzip"},           {".tar", "application/x-tar"},
      {".woff", "font/woff"},                {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},                  {".otf", "font/otf"},
      {".mp4", "video/mp4"},                 {".webm", "video/webm"},
      {".mp3", "audio/mpeg"},                {".ogg", "audio/ogg"},
      {".wav", "audio/wav"},                 {".valk", "text/plain; charset=utf-8"},
  };
  for (auto& [ext, type] : kTypes)
    if (lower_ends_with(path, ext)) return type;
  return "application/octet-stream";
}

std::string http_date(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

bool parse_http_date(std::string_view s, time_t& out) {
  std::string str(s);
  struct tm tm {};
  const char* end = strptime(str.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end) return false;
  out = timegm(&tm);
  return out != time_t(-1);
}

FilePlan plan_file(int64_t size, time_t mtime, std::string_view path, std::string_view method,
                   const HeaderList& req, std::string_view content_type) {
  FilePlan p;
  std::string modified = http_date(mtime);
  char etag[64];
  snprintf(etag, sizeof etag, "W/\"%llx-%llx\"", (unsigned long long)size,
           (unsigned long long)mtime);
  p.headers.push_back({"last-modified", modified});
  p.headers.push_back({"etag", etag});
  p.headers.push_back({"accept-ranges", "bytes"});
  bool head = method == "HEAD";
  // Conditional requests: if-none-match wins over if-modified-since (RFC 9110 13.2.2).
  std::string_view inm = header(req, "if-none-match"), ims = header(req, "if-modified-since");
  bool not_modified = false;
  if (!inm.empty()) {
    not_modified = inm == "*" || inm.find(etag) != std::string_view::npos ||
                   inm.find(std::string_view(etag).substr(2)) != std::string_view::npos;
  } else if (!ims.empty()) {
    time_t since;
    not_modified = parse_http_date(ims, since) && mtime <= since;
  }
  if (not_modified && (method == "GET" || head)) {
    p.status = 304;
    p.send_body = false;
    return p;
  }
  p.headers.push_back({"content-type", content_type.empty() ? mime_type(path)
                                                            : std::string(content_type)});
  p.offset = 0;
  p.length = size;
  std::string_view range = header(req, "range"), if_range = header(req, "if-range");
  // A range applies only if the file is the one the client has (if-range).
  bool range_ok = !range.empty() && (method == "GET" || head) &&
                  (if_range.empty() || if_range == modified || if_range == etag);
  if (range_ok) {
    int64_t from = 0, to = 0;
    int r = parse_range(range, size, from, to);
    if (r == 0) {
      p.status = 416;
      p.send_body = false;
      p.length = 0;
      p.headers.push_back({"content-range", "bytes */" + std::to_string(size)});
      return p;
    }
    if (r == 1) {
      p.status = 206;
      p.offset = from;
      p.length = to - from + 1;
      p.headers.push_back({"content-range", "bytes " + std::to_string(from) + "-" +
                                                std::to_string(to) + "/" + std::to_string(size)});
    }
  }
  p.headers.push_back({"content-length", std::to_string(p.length)});
  p.send_body = !head && p.length > 0;
  return p;
}

bool static_path(std::string_view root, std::string_view url, std::string& out, int& status) {
  std::string decoded;
  for (size_t i = 0; i < url.size(); ++i) {
    char c = url[i];
    if (c == '%') {
      int hi = i + 2 < url.size() ? hex_value(url[i + 1]) : -1;
      int lo = i + 2 < url.size() ? hex_value(url[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        status = 400;
        return false;
      }
      char d = char(hi * 16 + lo);
      if (d == '/' || d == '\\') {  // an encoded separator would hide a segment
        status = 403;
        return false;
      }
      decoded += d;
      i += 2;
    } else {
      decoded += c;
    }
  }
  if (decoded.find('\0') != std::string::npos) {
    status = 400;
    return false;
  }
  if (decoded.find('\\') != std::string::npos) {
    status = 403;
    return false;
  }
  // Segment by segment: "." is skipped, ".." is refused (never resolved).
  out.assign(root);
  while (!out.empty() && out.back() == '/') out.pop_back();
  size_t i = 0;
  bool any = false;
  while (i <= decoded.size()) {
    size_t j = decoded.find('/', i);
    if (j == std::string::npos) j = decoded.size();
    std::string_view seg(decoded.data() + i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      status = 403;
      return false;
    }
    out += '/';
    out += seg;
    any = true;
  }
  if (!any) out += '/';  // the root itself (its index)
  return true;
}

}  // namespace valk::http
