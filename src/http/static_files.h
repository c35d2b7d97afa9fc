// Serving files over HTTP (docs/http-server.md#files): what to answer for a
// file, given its size and modification time and the request's conditional
// and range headers, and how a URL path maps into a static root. Pure
// functions: the server does the I/O (uv_fs_*), these decide.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace valk::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// "text/html; charset=utf-8" etc. from the extension; application/octet-stream otherwise.
const char* mime_type(std::string_view path);

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and back (false if malformed).
std::string http_date(time_t t);
bool parse_http_date(std::string_view s, time_t& out);

struct FilePlan {
  int status = 200;     // 200, 206, 304 or 416
  int64_t offset = 0;   // the bytes to send
  int64_t length = 0;
  HeaderList headers;   // content-type, content-length, last-modified, etag, ...
  bool send_body = true;  // false for HEAD, 304, 416
};
// req_headers: the request's (lower-case names). content_type: "" for the default.
FilePlan plan_file(int64_t size, time_t mtime, std::string_view path, std::string_view method,
                   const HeaderList& req_headers, std::string_view content_type = "");

// Maps a request path (no query) under root: true with the file path, or
// false with the status to answer: 400 (malformed escapes, NUL), 403 (`..`,
// encoded slashes or backslashes), 404 (an empty name). Symlinks are checked
// by the caller, which resolves the result and root with realpath.
bool static_path(std::string_view root, std::string_view url_path, std::string& out, int& status);

}  // namespace valk::http
