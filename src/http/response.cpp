// Responses: what a handler returned, as HEADERS and DATA.
#include "http/server_internal.h"

#include <cstdlib>

#include "core/printer.h"
#include "http/text.h"

namespace valk::http {

// ---- responses -----------------------------------------------------------------------

ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                  nghttp2_data_source* source, void*) {
  auto* st = static_cast<Stream*>(source->ptr);
  size_t len = is_string(st->body_value) ? as_string(st->body_value)->len : 0;
  size_t n = len - st->body_off;
  if (n > length) n = length;
  if (n) memcpy(buf, as_string(st->body_value)->data + st->body_off, n);
  st->body_off += n;
  if (st->body_off >= len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return ssize_t(n);
}


int submit_head(Stream* st, int status, const HeaderList& headers, nghttp2_data_provider* body,
                const std::string* length, const std::string* type) {
  std::string status_text = std::to_string(status);
  std::vector<nghttp2_nv> nva;
  // nghttp2 copies the header block only when the response is submitted:
  // every name and value must outlive that call (no temporaries).
  auto add = [&](const std::string& n, const std::string& v) {
    nva.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  };
  static const std::string kStatusName = ":status";
  add(kStatusName, status_text);
  for (auto& [n, v] : headers) add(n, v);
  static const std::string kLength = "content-length", kType = "content-type";
  if (length) add(kLength, *length);
  if (type) add(kType, *type);
  return nghttp2_submit_response(st->conn->session, st->id, nva.data(), nva.size(), body);
}

void respond(Stream* st, int status, HeaderList headers, Value body) {
  Connection* c = st->conn;
  if (st->responded || !c->session) return;
  st->responded = true;
  st->body_value = is_string(body) ? body : make_string(display_string(body));
  st->body_off = 0;
  size_t len = as_string(st->body_value)->len;
  bool has_length = false, has_type = false;
  for (auto& [n, v] : headers) {
    if (n == "content-length") has_length = true;
    if (n == "content-type") has_type = true;
  }
  // 1xx, 204 and 304 have no body (RFC 9110 6.4.1), nor has any answer to
  // HEAD: a body sent anyway is a protocol error to the client. HEAD keeps
  // the length the body would have had.
  bool no_content = status < 200 || status == 204 || status == 304;
  bool bodiless = no_content || st->method == "HEAD";
  static const std::string kPlain = "text/plain; charset=utf-8";
  std::string length = std::to_string(len);
  nghttp2_data_provider prov;
  prov.source.ptr = st;
  prov.read_callback = read_body;
  if (submit_head(st, status, headers, bodiless ? nullptr : &prov,
                  !has_length && !no_content ? &length : nullptr,
                  !has_type && len > 0 && !no_content ? &kPlain : nullptr) != 0)
    return;
  count_request(st, status);
}

// Metrics: requests by method and status class (the counters are looked
// up once per pair, not per request).
void count_request(Stream* st, int status) {
  static const char* const known[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH",
                                      "OTHER"};
  static metrics::Counter* by_pair[8][7] = {};
  int mi = 7;
  for (int i = 0; i < 7; ++i)
    if (st->method == known[i]) mi = i;
  int ci = status >= 100 && status < 600 ? status / 100 : 6;
  if (!by_pair[mi][ci])
    by_pair[mi][ci] = &M().server_requests.get({known[mi], metrics::status_class(status)});
  by_pair[mi][ci]->inc();
}

void respond_text(Stream* st, int status, const char* text,
                  std::vector<std::pair<std::string, std::string>> extra) {
  respond(st, status, std::move(extra), make_string(text));
}

// Headers given as (("name" "value") ...) or as a plist {:name "value"}.
bool headers_of(Value v, std::vector<std::pair<std::string, std::string>>& out) {
  if (!is_list(v)) return false;
  if (is_cons(v) && (is_keyword(car(v)) || is_string(car(v))) && !is_cons(car(v))) {
    for (Value p = v; is_cons(p); p = cdr(cdr(p))) {
      if (!is_cons(cdr(p))) return false;
      out.push_back({lower_ascii(text_of(car(p))), text_of(car(cdr(p)))});
    }
    return true;
  }
  for (Value p = v; is_cons(p); p = cdr(p)) {
    Value pair = car(p);
    if (!is_cons(pair) || !is_cons(cdr(pair))) return false;
    out.push_back({lower_ascii(text_of(car(pair))), text_of(car(cdr(pair)))});
  }
  return true;
}


// A response's head, from a plist {:status :headers :body :content-type
// :cache-control :stream :file :root}: one pass over the plist (the first
// of a repeated key counts, as with plist_lookup).
bool parse_head(Value r, Head& head) {
  static const Value kStatus = intern(":status"), kHeaders = intern(":headers"),
                     kBody = intern(":body"), kType = intern(":content-type"),
                     kCache = intern(":cache-control"), kStream = intern(":stream"),
                     kFile = intern(":file"), kRoot = intern(":root");
  Value status = kUnbound, hv = kUnbound, type = kUnbound, cache = kUnbound;
  struct {
    Value key;
    Value* slot;
  } keys[] = {{kStatus, &status},          {kHeaders, &hv},       {kBody, &head.body},
              {kStream, &head.stream_fn},  {kFile, &head.file},   {kRoot, &head.root},
              {kType, &type},              {kCache, &cache}};
  for (Value p = r; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p)))
    for (auto& k : keys)
      if (car(p) == k.key) {
        if (*k.slot == kUnbound) *k.slot = car(cdr(p));
        break;
      }
  if (is_int(status)) head.status = int(int_val(status));
  else if (is_string(status)) head.status = atoi(as_string(status)->data);
  else if (status != kUnbound) head.status = 0;
  for (Value v : {status, hv, head.body, head.stream_fn, head.file, head.root})
    if (is_error(v)) {
      head.failed = v;
      return false;
    }
  if (head.status < 100 || head.status > 999) return false;
  if (hv != kUnbound && hv != kNil && !headers_of(hv, head.headers)) return false;
  if (head.stream_fn != kUnbound && !is_function(head.stream_fn)) return false;
  if (head.file != kUnbound && !is_string(head.file)) return false;
  if (head.root != kUnbound && (!is_string(head.root) || head.file == kUnbound)) return false;
  // Upstream's shorthand keys name two common headers; :headers wins.
  for (auto [v, name] : {std::pair{type, "content-type"}, std::pair{cache, "cache-control"}}) {
    if (v == kUnbound || v == kNil) continue;
    if (!is_string(v)) return false;
    bool given = false;
    for (auto& [n, _] : head.headers) given |= n == name;
    if (!given) head.headers.push_back({name, std::string(as_string(v)->view())});
  }
  return true;
}

void log_handler_error(Stream* st, const std::string& what) {
  fprintf(stderr, "valk: http2: handler for %s %s: %s\n", st->method.c_str(), st->path.c_str(),
          what.c_str());
}

// Sends what the handler produced: (http2/response ...) / a plist, a
// string, or an error (500, details in the log only).
void respond_with(Stream* st, Value r) {
  if (st->responded) return;  // already answered (413 or 504 by the server, a stream)
  if (is_error(r)) {
    std::string msg = display_string(as_error(r)->message);
    const SrcLoc& l = as_error(r)->loc;
    if (l.file) {
      std::string at;
      put_loc(at, l);
      msg = at + ": " + msg;
    }
    log_handler_error(st, msg);
    respond_text(st, 500, "Internal Server Error\n");
    return;
  }
  if (is_string(r)) {
    respond(st, 200, {}, r);
    return;
  }
  if (is_cons(r) && is_keyword(car(r))) {
    Head head;
    if (!parse_head(r, head)) {
      if (is_error(head.failed)) return respond_with(st, head.failed);  // a body that failed is a 500
      log_handler_error(st, "malformed response " + repr_string(r));
      respond_text(st, 500, "Internal Server Error\n");
      return;
    }
    if (head.stream_fn != kUnbound) return respond_streaming(st, head);
    if (head.file != kUnbound) return respond_file(st, head);
    respond(st, head.status, std::move(head.headers),
            head.body == kUnbound || head.body == kNil ? make_string("") : head.body);
    return;
  }
  log_handler_error(st, "unexpected response value " + repr_string(r));
  respond_text(st, 500, "Internal Server Error\n");
}

}  // namespace valk::http
