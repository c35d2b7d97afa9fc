// The HTTP client (see client.h): libcurl's multi-socket API on our libuv
// loop, as in curl's own multi-uv example: curl tells us which sockets to
// watch and when to wake it; we tell curl what happened.
#include "http/client.h"

#include <gc/gc.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <unordered_set>

#include "aio/loop.h"
#include "http/curl_lib.h"
#include "aio/metrics.h"
#include "core/gc.h"
#include "core/runtime.h"
#include "core/vm.h"

namespace valk::http {

// One transfer (in valk::http: the runtime state names it). Pinned memory:
// curl holds a pointer to it, and it holds the handle the program waits on.
struct Transfer {
  CURL* easy = nullptr;
  aio::Handle* handle = nullptr;
  std::string url;
  std::string request_body;
  curl_slist* request_headers = nullptr;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  char errbuf[CURL_ERROR_SIZE] = {0};
  uint64_t start_ns = 0;
  bool aborted = false;  // the handle was cancelled: abort at curl's next chance
  std::string origin;    // scheme://host:port, to tell whether a connection may be shared
};

namespace {

// This file's part of the runtime (core/runtime.h).
ClientState& C() { return rt().client; }
CURLM* multi() { return static_cast<CURLM*>(C().multi); }

metrics::Standard& M() { return metrics::standard(); }

struct SocketWatch {
  uv_poll_t poll;
  curl_socket_t fd;
};


void check_done();

void on_poll(uv_poll_t* req, int status, int events) {
  auto* w = static_cast<SocketWatch*>(req->data);
  int flags = 0;
  // On a socket error, let curl read and write: it then reports what
  // happened (a reset by the peer, say) rather than a bare poll error.
  if (status < 0) flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running = 0;
  curl::multi_socket_action(multi(), w->fd, flags, &running);
  check_done();
}

int on_socket(CURL*, curl_socket_t s, int what, void*, void* socketp) {
  auto* w = static_cast<SocketWatch*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (w) {
      uv_poll_stop(&w->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&w->poll),
               [](uv_handle_t* h) { delete static_cast<SocketWatch*>(h->data); });
      curl::multi_assign(multi(), s, nullptr);
    }
    return 0;
  }
  if (!w) {
    w = new SocketWatch;
    w->fd = s;
    uv_poll_init_socket(aio::loop(), &w->poll, s);
    // curl's sockets (pooled connections too) do not by themselves keep
    // the program running: transfers in flight do, through C().kick.
    uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
    w->poll.data = w;
    curl::multi_assign(multi(), s, w);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  uv_poll_start(&w->poll, events, on_poll);
  return 0;
}

// libcurl 7.88's multi-socket interface occasionally leaves a transfer that
// shares a connection unserviced until other traffic arrives (up to its
// 10 s internal timeout). While transfers are in flight, a light timer
// lets curl look at all of them every 25 ms.
void on_kick(uv_timer_t*) {
  if (C().live.empty()) {
    uv_timer_stop(&C().kick);
    return;
  }
  int running = 0;
  curl::multi_socket_all(multi(), &running);
  check_done();
}

void on_uv_timer(uv_timer_t*) {
  int running = 0;
  curl::multi_socket_action(multi(), CURL_SOCKET_TIMEOUT, 0, &running);
  check_done();
}

int on_curl_timer(CURLM*, long timeout_ms, void*) {
  if (timeout_ms < 0)
    uv_timer_stop(&C().timer);
  else
    uv_timer_start(&C().timer, on_uv_timer, uint64_t(timeout_ms), 0);
  return 0;
}

// Open sockets, for the pooled-connections gauge.
curl_socket_t on_open_socket(void*, curlsocktype, curl_sockaddr* a) {
  curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
  if (fd != CURL_SOCKET_BAD) M().client_connections_pooled.set(++C().open_sockets);
  return fd;
}
int on_close_socket(void*, curl_socket_t fd) {
  M().client_connections_pooled.set(--C().open_sockets);
  return close(fd);
}

// A fresh runtime (reset_runtime): curl's timers close with the old loop.
// (Only done with no transfer in flight; pooled connections are dropped.)
void close_client(Runtime& old) {
  ClientState& c = old.client;
  if (!c.multi) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.kick), nullptr);
  c.multi = nullptr;  // (curl's own sockets go with the process)
}

bool init_multi(VM& vm, std::string& err) {
  if (C().multi) return true;
  add_runtime_teardown(close_client);
  if (!curl::load(err)) return false;
  aio::start(vm);
  curl::global_init(CURL_GLOBAL_DEFAULT);
  C().multi = curl::multi_init();
  curl::multi_setopt(multi(), CURLMOPT_SOCKETFUNCTION, on_socket);
  curl::multi_setopt(multi(), CURLMOPT_TIMERFUNCTION, on_curl_timer);
  // One multiplexed connection per origin when it speaks HTTP/2, a bounded
  // pool otherwise.
  curl::multi_setopt(multi(), CURLMOPT_PIPELINING, long(CURLPIPE_MULTIPLEX));
  curl::multi_setopt(multi(), CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
  curl::multi_setopt(multi(), CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
  curl::multi_setopt(multi(), CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
  uv_timer_init(aio::loop(), &C().timer);
  uv_unref(reinterpret_cast<uv_handle_t*>(&C().timer));  // (see on_socket)
  uv_timer_init(aio::loop(), &C().kick);
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* ud) {
  static_cast<Transfer*>(ud)->body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->headers.clear();  // a new response (after a redirect or 100-continue)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (char& ch : name)
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  t->headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

void finish(Transfer* t) {
  C().live.erase(t);
  t->handle->k.io = {nullptr, nullptr};  // nothing left to abort
  curl::multi_remove_handle(multi(), t->easy);
  curl::easy_cleanup(t->easy);
  curl::slist_free_all(t->request_headers);
  gc_delete_pinned(t);
}

// Cancelled: the transfer is aborted from inside curl (its progress
// callback says so), which resets the HTTP/2 stream properly so that the
// server stops working on it; curl then reports it done and it is freed.
void abort_transfer(void* ctx) {
  auto* t = static_cast<Transfer*>(ctx);
  M().client_errors.get({"cancelled"}).inc();
  t->aborted = true;
  // libcurl 7.88 may leave the RST_STREAM of an aborted HTTP/2 stream
  // unsent until the connection carries traffic again. When no other
  // transfer to the same origin is in flight, closing the connection tells
  // the server at once.
  bool shared = false;
  for (Transfer* o : C().live)
    if (o != t && !o->aborted && o->origin == t->origin) shared = true;
  if (!shared) curl::easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
  // Pausing and resuming makes curl run the transfer now, so its progress
  // callback sees the abort at once.
  curl::easy_pause(t->easy, CURLPAUSE_ALL);
  curl::easy_pause(t->easy, CURLPAUSE_CONT);
  int running = 0;
  curl::multi_socket_action(multi(), CURL_SOCKET_TIMEOUT, 0, &running);
}

int on_progress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(ud)->aborted ? 1 : 0;
}

const char* error_kind(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE: return "tls";
    case CURLE_TOO_MANY_REDIRECTS: return "redirects";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return "connection";
    default: return "transfer";
  }
}

Value headers_value(const std::vector<std::pair<std::string, std::string>>& hs) {
  ListBuilder b;
  for (auto& [n, v] : hs) {
    ListBuilder p;
    p.push(make_string(n));
    p.push(make_string(v));
    b.push(p.result());
  }
  return b.result();
}

void complete_transfer(Transfer* t, CURLcode code) {
  aio::Handle* h = t->handle;
  if (t->aborted) {  // its handle is already cancelled
    finish(t);
    return;
  }
  curl_off_t down = 0, up = 0;
  curl::easy_getinfo(t->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
  curl::easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &up);
  M().client_bytes_in.add(uint64_t(down));
  M().client_bytes_out.add(uint64_t(up));
  M().client_request_duration.observe_ns(uv_hrtime() - t->start_ns);
  h->k.io.cancel = nullptr;
  if (code != CURLE_OK) {
    const char* kind = error_kind(code);
    M().client_errors.get({kind}).inc();
    std::string detail = t->errbuf[0] ? t->errbuf : curl::easy_strerror(code);
    std::string what = std::string(kind) == "dns"       ? "cannot resolve host"
                       : std::string(kind) == "connect" ? "connection refused or unreachable"
                       : std::string(kind) == "timeout" ? "timed out"
                       : std::string(kind) == "tls"     ? "TLS failure"
                                                        : "transfer failed";
    Value e = make_error("fetch " + t->url + ": " + what + " (" + detail + ")");
    finish(t);
    aio::fail_with(h, e);
    return;
  }
  long status = 0, version = 0;
  char* effective = nullptr;
  curl::easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  curl::easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version);
  curl::easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &effective);
  const char* v = version == CURL_HTTP_VERSION_2_0 ? "2"
                  : version == CURL_HTTP_VERSION_1_1 ? "1.1"
                  : version == CURL_HTTP_VERSION_1_0 ? "1.0"
                  : version == CURL_HTTP_VERSION_3   ? "3"
                                                     : "unknown";
  ListBuilder r;
  r.push(intern(":status"));
  r.push(make_fix(status));
  r.push(intern(":headers"));
  r.push(headers_value(t->headers));
  r.push(intern(":body"));
  r.push(make_string(t->body));
  r.push(intern(":http-version"));
  r.push(make_string(v));
  r.push(intern(":url"));
  r.push(make_string(effective ? effective : t->url));
  Value response = r.result();
  finish(t);
  aio::complete(h, response);
}

void check_done() {
  CURLMsg* msg;
  int left;
  while ((msg = curl::multi_info_read(multi(), &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl::easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    if (t) complete_transfer(t, msg->data.result);
  }
}

}  // namespace

aio::Handle* fetch(VM& vm, const ClientRequest& req) {
  std::string load_error;
  if (!init_multi(vm, load_error)) return aio::fail(vm, make_error("fetch " + req.url + ": " + load_error));
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  auto* t = gc_new_pinned<Transfer>();
  t->handle = h;
  t->url = req.url;
  {
    size_t scheme_end = req.url.find("://");
    size_t host_end = scheme_end == std::string::npos ? std::string::npos
                                                      : req.url.find('/', scheme_end + 3);
    t->origin = req.url.substr(0, host_end);
  }
  h->k.io = {abort_transfer, t};
  t->start_ns = uv_hrtime();
  M().client_requests.inc();

  CURL* e = t->easy = curl::easy_init();
  curl::easy_setopt(e, CURLOPT_PRIVATE, t);
  curl::easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl::easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl::easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl::easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl::easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl::easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl::easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl::easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl::easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl::easy_setopt(e, CURLOPT_XFERINFODATA, t);
  curl::easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl::easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl::easy_setopt(e, CURLOPT_HTTP_VERSION, req.http2_prior_knowledge
                                                ? long(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
                                                : long(CURL_HTTP_VERSION_2TLS));
  // Wait for a connection that can multiplex rather than open another one.
  curl::easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  // libcurl 7.88 (Debian 12) sends nothing on an idle h2c (prior knowledge)
  // connection it reuses (the same happens against nghttpd), and fails when
  // streams share one, so each such request gets a connection of its own.
  // h2 over TLS (ALPN) is unaffected: reused and multiplexed.
  if (req.http2_prior_knowledge) {
    curl::easy_setopt(e, CURLOPT_PIPEWAIT, 0L);
    curl::easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl::easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  curl::easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl can decode
  curl::easy_setopt(e, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl::easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
  curl::easy_setopt(e, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl::easy_setopt(e, CURLOPT_MAXREDIRS, req.max_redirects);
  curl::easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req.insecure_skip_verify ? 0L : 1L);
  curl::easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req.insecure_skip_verify ? 0L : 2L);
  std::string ca = req.ca_file;
  if (ca.empty())
    if (const char* f = getenv("SSL_CERT_FILE"); f && *f) ca = f;
  if (!ca.empty()) curl::easy_setopt(e, CURLOPT_CAINFO, ca.c_str());
  curl::easy_setopt(e, CURLOPT_USERAGENT, "valkyria/" VALK_VERSION);
  // "name;" is how curl is told to send a header with an empty value: "name:" with
  // nothing after the colon would remove the header instead.
  for (auto& [n, v] : req.headers)
    t->request_headers =
        curl::slist_append(t->request_headers, (v.empty() ? n + ";" : n + ": " + v).c_str());
  if (t->request_headers) curl::easy_setopt(e, CURLOPT_HTTPHEADER, t->request_headers);
  if (req.method == "HEAD") {
    curl::easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST") {
    curl::easy_setopt(e, CURLOPT_POST, 1L);
  } else if (req.method != "GET") {
    curl::easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.has_body || req.method == "POST" || req.method == "PUT") {
    t->request_body = req.body;
    curl::easy_setopt(e, CURLOPT_POSTFIELDS, t->request_body.data());
    curl::easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(t->request_body.size()));
  }
  C().live.insert(t);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&C().kick))) uv_timer_start(&C().kick, on_kick, 25, 25);
  CURLMcode rc = curl::multi_add_handle(multi(), e);
  if (rc != CURLM_OK) {
    h->k.io.cancel = nullptr;
    std::string msg = "fetch " + req.url + ": " + curl::multi_strerror(rc);
    finish(t);
    aio::fail_with(h, make_error(msg));
  }
  return h;
}

}  // namespace valk::http
