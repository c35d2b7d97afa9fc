// The HTTP/2 server builtins (docs/http-server.md): http2/server-listen, -port, -stop,
// http2/response, and the req/* accessors.
#include <cstdlib>
#include <cstring>
#include <string>

#include "aio/handle.h"
#include "core/printer.h"
#include "http/server.h"
#include "http/static_files.h"
#include "http/text.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using http::Request;


Value opt(Value plist, const char* key) { return plist_lookup(plist, intern(key)); }

// Reads a positive integer option; false (with *err set) when malformed.
bool int_opt(Value plist, const char* key, uint64_t& out, Value* err) {
  Value v = opt(plist, key);
  if (v == kUnbound) return true;
  if (!is_int(v) || int_val(v) <= 0) {
    *err = make_error(std::string("http2/server-listen: option ") + key +
                      " must be a positive integer, got " + repr_string(v));
    return false;
  }
  out = uint64_t(int_val(v));
  return true;
}

// (http2/server-listen port cert key handler [opts])   TLS, ALPN h2
// (http2/server-listen port handler [opts])            cleartext h2c
// (http2/server-listen sys port handler)               upstream
Value b_listen(VM& vm, Value* args, int argc) {
  if (argc > 0 && is_aio_system(args[0])) {
    ++args;
    --argc;
  }
  for (int i = 0; i < argc; ++i)
    if (is_error(args[i])) return args[i];
  if (argc < 2) return make_error("http2/server-listen: expected (port [cert key] handler [opts])");
  http::ServerOptions o;
  VALK_CHECK(is_int(args[0]) && int_val(args[0]) >= 0 && int_val(args[0]) <= 65535,
             "http2/server-listen", 0, "a port number (0 to 65535)");
  o.port = int(int_val(args[0]));
  int hi;  // index of the handler
  if (argc >= 4 && is_string(args[1]) && is_string(args[2])) {
    o.tls = true;
    o.cert = std::string(as_string(args[1])->view());
    o.key = std::string(as_string(args[2])->view());
    hi = 3;
  } else {
    hi = 1;
  }
  if (!is_function(args[hi])) return bad_arg("http2/server-listen", hi, "a handler function", args[hi]);
  Value opts = argc > hi + 1 ? args[hi + 1] : kNil;
  if (!is_list(opts)) return bad_arg("http2/server-listen", hi + 1, "an options plist", opts);
  if (argc > hi + 2) return make_error("http2/server-listen: too many arguments");
  Value host = opt(opts, ":host");
  if (host != kUnbound) {
    if (!is_string(host)) return make_error("http2/server-listen: option :host must be a string");
    o.host = std::string(as_string(host)->view());
  }
  Value err = kNil;
  uint64_t v;
  struct {
    const char* key;
    uint64_t* u64;
    uint32_t* u32;
    size_t* sz;
  } nums[] = {{":max-connections", nullptr, &o.max_connections, nullptr},
              {":max-concurrent-streams", nullptr, &o.max_concurrent_streams, nullptr},
              {":max-inflight", nullptr, &o.max_inflight, nullptr},
              {":max-body-bytes", &o.max_body_bytes, nullptr, nullptr},
              {":max-header-bytes", nullptr, &o.max_header_bytes, nullptr},
              {":header-timeout-ms", nullptr, &o.header_timeout_ms, nullptr},
              {":idle-timeout-ms", nullptr, &o.idle_timeout_ms, nullptr},
              {":high-watermark", nullptr, nullptr, &o.high_watermark},
              {":low-watermark", nullptr, nullptr, &o.low_watermark},
              {":stream-high-watermark", nullptr, nullptr, &o.stream_high_watermark},
              {":stream-low-watermark", nullptr, nullptr, &o.stream_low_watermark},
              {":body-timeout-ms", nullptr, &o.body_timeout_ms, nullptr},
              {":request-timeout-ms", nullptr, &o.request_timeout_ms, nullptr}};
  for (auto& n : nums) {
    v = 0;
    if (!int_opt(opts, n.key, v, &err)) return err;
    if (!v) continue;
    if (n.u64) *n.u64 = v;
    if (n.u32) *n.u32 = uint32_t(v > UINT32_MAX ? UINT32_MAX : v);
    if (n.sz) *n.sz = size_t(v);
  }
  if (o.low_watermark > o.high_watermark) o.low_watermark = o.high_watermark / 2;
  if (o.stream_low_watermark > o.stream_high_watermark)
    o.stream_low_watermark = o.stream_high_watermark / 2;
  Value sb = opt(opts, ":stream-bodies");
  o.stream_bodies = (sb != kUnbound && truthy(sb));
  Value rp = opt(opts, ":reuseport");
  o.reuseport = (rp != kUnbound && truthy(rp));
  // Worker processes (valk --workers N) share the port.
  if (const char* w = getenv("VALK_WORKER"); w && *w) o.reuseport = true;
  return http::listen(vm, o, args[hi]);
}

Value b_port(VM& vm, Value* args, int argc) {
  VALK_CHECK(http::is_server(args[0]), "http2/server-port", 0, "a server");
  return make_fix(http::server_port(http::as_server(args[0])));
}

Value b_stop(VM& vm, Value* args, int argc) {
  VALK_CHECK(http::is_server(args[0]), "http2/server-stop", 0, "a server");
  return aio::return_draining(vm, aio::handle_value(http::stop(vm, http::as_server(args[0]))));
}

// (http2/response status headers body): the plist the server sends.
Value b_response(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_int(args[0]) && int_val(args[0]) >= 100 && int_val(args[0]) <= 999,
             "http2/response", 0, "a status code (100 to 999)");
  VALK_CHECK(is_list(args[1]), "http2/response", 1, "a list of headers");
  if (is_error(args[2])) return args[2];
  static const Value kStatus = intern(":status"), kHeaders = intern(":headers"),
                     kBody = intern(":body");
  ListBuilder b;
  b.push(kStatus);
  b.push(args[0]);
  b.push(kHeaders);
  b.push(args[1]);
  b.push(kBody);
  b.push(args[2]);
  return b.result();
}

#define REQ(fn)                                                       \
  if (!http::is_request(args[0])) return bad_arg(fn, 0, "a request", args[0]); \
  Request* r = http::as_request(args[0])

Value b_method(VM&, Value* args, int) {
  REQ("req/method");
  return r->method;
}
Value b_path(VM&, Value* args, int) {
  REQ("req/path");
  return r->path;
}
Value b_authority(VM&, Value* args, int) {
  REQ("req/authority");
  return r->authority;
}
Value b_scheme(VM&, Value* args, int) {
  REQ("req/scheme");
  return r->scheme;
}
Value b_body(VM&, Value* args, int) {
  REQ("req/body");
  if (r->streamed_body)
    return make_error("req/body: this server streams request bodies (:stream-bodies): use "
                      "req/read-body or req/body-stream");
  return r->body;
}

// (req/body-stream req): the body as a readable stream (stream/read).
Value b_body_stream(VM& vm, Value* args, int) {
  REQ("req/body-stream");
  (void)r;
  return http::request_body_stream(vm, args[0]);
}

// (req/read-body req): a handle of the whole body, however it arrives.
Value b_read_body(VM& vm, Value* args, int) {
  REQ("req/read-body");
  (void)r;
  return aio::return_draining(vm, http::read_request_body(vm, args[0]));
}

// (stream/open req [head]) => a stream for the response body.
Value b_stream_open(VM& vm, Value* args, int argc) {
  if (is_error(args[0])) return args[0];
  if (argc > 1 && is_error(args[1])) return args[1];
  return aio::return_draining(vm, http::open_response_stream(vm, args[0], argc > 1 ? args[1] : kNil));
}
Value b_headers(VM&, Value* args, int) {
  REQ("req/headers");
  return r->headers;
}


// (req/header req "Content-Type"): case-insensitive; nil when absent.
Value b_header(VM&, Value* args, int) {
  REQ("req/header");
  Value n = args[1];
  if (!is_string(n) && !is_keyword(n)) return bad_arg("req/header", 1, "a header name", n);
  std::string want = http::lower_ascii(is_string(n) ? as_string(n)->view() : as_symbol(n)->view().substr(1));
  for (Value p = r->headers; is_cons(p); p = cdr(p))
    if (as_string(car(car(p)))->view() == want) return car(cdr(car(p)));
  return kNil;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && http::hex_value(s[i + 1]) >= 0 && http::hex_value(s[i + 2]) >= 0) {
      out += char(http::hex_value(s[i + 1]) * 16 + http::hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// (req/query req): {"name" "value" ...}; (req/query req "name"): one value.
// Names are strings, never keywords: keywords are interned for good, so a
// client sending new names would grow the symbol table without bound.
Value b_query(VM&, Value* args, int argc) {
  REQ("req/query");
  std::string_view q = as_string(r->query)->view();
  ListBuilder b;
  std::string want;
  if (argc == 2) {
    if (is_string(args[1])) want = std::string(as_string(args[1])->view());
    else if (is_keyword(args[1])) want = std::string(as_symbol(args[1])->view().substr(1));
    else return bad_arg("req/query", 1, "a parameter name", args[1]);
  }
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string name = url_decode(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    if (argc == 2) {
      if (name == want) return make_string(value);
      continue;
    }
    b.push(make_string(name));
    b.push(make_string(value));
  }
  return argc == 2 ? kNil : b.result();
}

// (%http2-static-path root url-path) => the file path under root, or the
// status to answer (400, 403, 404). http2/static (lib/valk/http_files.valk).
Value b_static_path(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "http2/static", 0, "a directory path");
  VALK_CHECK(is_string(args[1]), "http2/static", 1, "a request path");
  std::string out;
  int status = 0;
  if (!http::static_path(as_string(args[0])->view(), as_string(args[1])->view(), out, status))
    return make_fix(status);
  return make_string(out);
}

// (http2/mime-type path) => the content type the file server sends for it.
Value b_mime_type(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "http2/mime-type", 0, "a file name");
  return make_string(http::mime_type(as_string(args[0])->view()));
}

}  // namespace

void open_http(VM& vm) {
  define("%http2-static-path", guarded<b_static_path>, 2, 2);
  define("http2/mime-type", guarded<b_mime_type>, 1, 1);
  define("http2/server-listen", b_listen, 2, 6);
  define("http2/server-port", b_port, 1, 1);
  define("http2/server-stop", b_stop, 1, 1);
  define("http2/response", b_response, 3, 3);
  define("req/method", b_method, 1, 1);
  define("req/path", b_path, 1, 1);
  define("req/query", b_query, 1, 2);
  define("req/headers", b_headers, 1, 1);
  define("req/header", b_header, 2, 2);
  define("req/body", b_body, 1, 1);
  define("req/body-stream", guarded<b_body_stream>, 1, 1);
  define("req/read-body", guarded<b_read_body>, 1, 1);
  define("stream/open", guarded<b_stream_open>, 1, 2);
  define("req/authority", b_authority, 1, 1);
  define("req/scheme", b_scheme, 1, 1);
}

}  // namespace valk
