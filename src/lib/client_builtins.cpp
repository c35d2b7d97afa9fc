// The HTTP client's builtin: %http-fetch turns a request plist (built by
// lib/valk/http_api.valk: http-get, with-header, ...) into a transfer.
#include <string>

#include "aio/context.h"
#include "http/client.h"
#include "http/text.h"
#include "lib/builtins.h"
#include "core/printer.h"

namespace valk {

namespace {

Value get(Value pl, const char* key) { return plist_lookup(pl, intern(key)); }
using http::text_of;

Value b_fetch(VM& vm, Value* args, int argc) {
  Value r = args[0];
  if (is_error(r)) return r;
  http::ClientRequest req;
  if (is_string(r)) {
    req.url = text_of(r);
  } else if (is_cons(r) && is_keyword(car(r))) {
    Value url = get(r, ":url");
    if (!is_string(url)) return make_error("fetch: the request has no :url string");
    req.url = text_of(url);
    if (Value m = get(r, ":method"); m != kUnbound) req.method = text_of(m);
    if (Value hs = get(r, ":headers"); hs != kUnbound) {
      for (Value p = hs; is_cons(p); p = cdr(p)) {
        Value pair = car(p);
        if (!is_cons(pair) || !is_cons(cdr(pair)))
          return make_error("fetch: headers must be (name value) pairs");
        std::string name = text_of(car(pair)), value = text_of(car(cdr(pair)));
        // A CR or LF would let one header become several (curl sends the text as is).
        if (name.empty() || name.find_first_of(":\r\n \t", 0, 5) != std::string::npos ||
            name.find('\0') != std::string::npos)
          return make_error("fetch: not a header name: " + repr_string(car(pair)));
        if (value.find_first_of("\r\n", 0, 2) != std::string::npos || value.find('\0') != std::string::npos)
          return make_error("fetch: the value of header " + name + " contains a CR, LF or NUL");
        req.headers.emplace_back(std::move(name), std::move(value));
      }
    }
    if (Value b = get(r, ":body"); b != kUnbound && b != kNil) {
      req.body = text_of(b);
      req.has_body = true;
    }
    if (Value t = get(r, ":timeout-ms"); is_int(t) && int_val(t) > 0) req.timeout_ms = long(int_val(t));
    if (Value f = get(r, ":follow-redirects"); f != kUnbound) req.follow_redirects = truthy(f);
    if (Value f = get(r, ":max-redirects"); is_int(f)) req.max_redirects = long(int_val(f));
    if (Value f = get(r, ":insecure-skip-tls-verify"); f != kUnbound) req.insecure_skip_verify = truthy(f);
    if (Value f = get(r, ":http2-prior-knowledge"); f != kUnbound) req.http2_prior_knowledge = truthy(f);
    if (Value f = get(r, ":ca-file"); is_string(f)) req.ca_file = text_of(f);
  } else {
    return bad_arg("fetch", 0, "a URL string or a request", r);
  }
  if (req.url.rfind("http://", 0) != 0 && req.url.rfind("https://", 0) != 0)
    return make_error("fetch: not an http:// or https:// URL: " + req.url);
  // Under a request context: deadline and trace headers, the timeout capped.
  return aio::handle_value(aio::fetch_in_context(vm, req));
}

// (url-encode s): percent-encodes everything but the unreserved characters.
Value b_url_encode(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "url-encode", 0, "a string");
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : as_string(args[0])->view()) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return make_string(out);
}

}  // namespace

void open_client(VM& vm) {
  define("%http-fetch", b_fetch, 1, 1);
  define("url-encode", b_url_encode, 1, 1);
}

}  // namespace valk
