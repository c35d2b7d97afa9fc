// One HTTP/2 stream of the server: the request as nghttp2 delivers it, the
// handler run as a job, and the stream's end.
#include "http/server_internal.h"

#include "aio/combinators.h"
#include "aio/context.h"
#include "core/printer.h"
#include "core/vm.h"
#include "http/text.h"

namespace valk::http {

namespace {

const OpaqueClass kRequestClass = {"request", [](std::string& out, const Opaque* o) {
                                     auto* r = reinterpret_cast<const Request*>(o->payload);
                                     out += "<request ";
                                     print_display(out, r->method);
                                     out += ' ';
                                     print_display(out, r->path);
                                     out += '>';
                                   }};


void on_work_settled(void* ctx, aio::Handle* h) {
  auto* st = static_cast<Stream*>(ctx);
  st->watch = nullptr;
  if (st->out) {
    // The handler opened a stream: its result is not the response (upstream
    // handlers return :deferred), but a failure is still logged.
    if (h->state == aio::State::Failed) {
      Value e = aio::failure_as_error(h);
      std::string at;
      if (as_error(e)->loc.file) {
        put_loc(at, as_error(e)->loc);
        at += ": ";
      }
      log_handler_error(st, at + display_string(as_error(e)->message));
    }
    return;
  }
  if (h->state == aio::State::Failed && aio::is_deadline_error(aio::failure_as_error(h))) {
    // Cut off by the request's deadline (its timers or fetches), not a bug: 504.
    if (!st->responded) M().server_request_timeouts.inc();
    respond_text(st, 504, "Gateway Timeout: the handler did not answer in time\n");
  } else if (h->state == aio::State::Completed) {
    respond_with(st, h->result);
  } else if (h->state == aio::State::Failed) {
    respond_with(st, aio::failure_as_error(h));
  } else {
    respond_text(st, 503, "Service Unavailable\n");
  }
  request_flush(st->conn);
}

Value make_request(Stream* st) {
  auto* r = static_cast<Request*>(gc_alloc(sizeof(Request)));
  r->method = make_string(st->method);
  std::string path = st->path, query;
  size_t q = path.find('?');
  if (q != std::string::npos) {
    query = path.substr(q + 1);
    path.resize(q);
  }
  r->path = make_string(path);
  r->query = make_string(query);
  r->authority = make_string(st->authority);
  r->scheme = make_string(st->scheme.empty() ? (st->conn->ssl ? "https" : "http") : st->scheme);
  ListBuilder hb;
  for (auto& [n, v] : st->headers) {
    ListBuilder pair;
    pair.push(make_string(n));
    pair.push(make_string(v));
    hb.push(pair.result());
  }
  r->headers = hb.result();
  r->body = st->in ? kNil : make_string(st->body);
  r->streamed_body = st->in != nullptr;
  r->body_stream = st->in ? aio::stream_value(st->in) : kNil;
  r->live = st;
  r->max_body_bytes = st->conn->srv->opts.max_body_bytes;
  st->req = r;
  return make_opaque(&kRequestClass, r);
}

// :request-timeout-ms: a handler that has not started its response is
// cancelled (with everything it started, through its scopes) and the client

}  // namespace

// gets 504. A response stream, once open, is governed by its own timeouts.
void on_request_timeout(void* ctx, aio::Handle*) {
  auto* st = static_cast<Stream*>(ctx);
  st->deadline = nullptr;
  st->deadline_watch = nullptr;
  if (st->responded) return;
  M().server_request_timeouts.inc();
  respond_text(st, 504, "Gateway Timeout: the handler did not answer in time\n");
  if (st->work && !aio::settled(st->work)) aio::cancel(st->work);
  request_flush(st->conn);
}

// A request has fully arrived: shed it, refuse it, or run the handler.
void dispatch(VM& vm, Stream* st) {
  Server* srv = st->conn->srv;
  st->start_ns = uv_hrtime();
  if (st->too_large) {
    respond_text(st, 413, "Payload Too Large\n");
    return;
  }
  if (srv->inflight >= srv->opts.max_inflight) {
    M().server_requests_shed.inc();
    respond_text(st, 503, "Service Unavailable: overloaded\n", {{"retry-after", "1"}});
    return;
  }
  st->dispatched = true;
  ++srv->inflight;
  Value req = make_request(st);
  // The handler runs in a request context (docs/async.md#request-contexts-and-deadlines):
  // the caller's trace (traceparent) in a new span, and a deadline, the
  // earlier of :request-timeout-ms and the caller's x-valk-deadline-ms, that
  // its timers and fetches respect.
  std::string_view traceparent, caller_deadline;
  for (auto& [n, v] : st->headers) {
    if (n == "traceparent") traceparent = v;
    else if (n == aio::kDeadlineHeader) caller_deadline = v;
  }
  int64_t deadline = srv->opts.request_timeout_ms
                         ? aio::now_us() + int64_t(srv->opts.request_timeout_ms) * 1000
                         : 0;
  int64_t asked = caller_deadline.empty() ? 0 : aio::deadline_from_header(caller_deadline);
  if (asked && (!deadline || asked < deadline)) deadline = asked;
  Value ctx = aio::make_context(traceparent.empty() ? kNil : aio::context_from_traceparent(traceparent),
                               deadline, kNil);
  // The handler runs as a job: it may return a value or a handle, and may
  // aio/await inside without blocking the loop.
  aio::Handle* work = nullptr;
  aio::with_context(ctx, [&] {
    work = aio::new_handle(vm, aio::Kind::Adopt);
    aio::queue_job(vm, srv->handler, cons(req, kNil), work, aio::JobKind::Resolve);
  });
  st->work = work;
  aio::watch(vm, work, on_work_settled, st, &st->watch);
  if (srv->opts.request_timeout_ms && !aio::settled(work)) {
    st->deadline = aio::sleep(vm, srv->opts.request_timeout_ms, kNil);
    aio::watch(vm, st->deadline, on_request_timeout, st, &st->deadline_watch);
  }
}

// ---- nghttp2 callbacks ----------------------------------------------------------------

Stream* stream_of(nghttp2_session* s, int32_t id) {
  return static_cast<Stream*>(nghttp2_session_get_stream_user_data(s, id));
}

int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  Stream* st = gc_new_pinned<Stream>();
  st->id = frame->hd.stream_id;
  st->conn = c;
  st->body_activity_ms = now_ms();
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  nghttp2_session_set_stream_user_data(session, st->id, st);
  M().server_streams_total.inc();
  M().server_streams_active.inc();
  return 0;
}

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* c = static_cast<Connection*>(user);
  Stream* st = stream_of(session, frame->hd.stream_id);
  if (!st) return 0;
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > c->srv->opts.max_header_bytes) {
    // Too large a header list: refuse this stream (431 is not possible
    // once the stream is reset, so the client sees a reset).
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":method") st->method = v;
  else if (n == ":path") st->path = v;
  else if (n == ":authority") st->authority = v;
  else if (n == ":scheme") st->scheme = v;
  else if (!n.empty() && n[0] != ':') st->headers.emplace_back(n, v);
  return 0;
}

int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                  void* user) {
  auto* c = static_cast<Connection*>(user);
  Stream* st = stream_of(c->session, id);
  if (!st) return 0;
  // The connection's window is the server's to open at once; a stream's
  // only once its bytes were taken (a streamed body: when the program reads).
  nghttp2_session_consume_connection(c->session, len);
  st->body_activity_ms = now_ms();
  if (st->in && !st->discard_body) {
    // Served to the program once this read's frames are all in (after_input).
    aio::push_quietly(st->in, reinterpret_cast<const char*>(data), len);
    c->body_input = true;
    return 0;
  }
  if (st->discard_body) {
    nghttp2_session_consume_stream(c->session, id, len);
    return 0;
  }
  nghttp2_session_consume_stream(c->session, id, len);
  if (st->body.size() + len > c->srv->opts.max_body_bytes) {
    st->too_large = true;  // keep reading (flow control), answer 413 at the end
    st->body.clear();
    st->body.shrink_to_fit();
  } else if (!st->too_large) {
    st->body.append(reinterpret_cast<const char*>(data), len);
  }
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    c->got_headers = true;
    Stream* st = stream_of(session, frame->hd.stream_id);
    if (st) st->body_activity_ms = now_ms();
    if (st && c->srv->opts.stream_bodies && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      // The handler runs now and reads the body as it arrives.
      st->in = new_request_body(st);
      st->complete = true;  // (dispatched once)
      c->ready.push_back(st);
      return 0;
    }
  }
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    Stream* st = stream_of(session, frame->hd.stream_id);
    if (st && st->in) {
      st->in_done = true;
      aio::push_end(st->in, kNil);
      return 0;
    }
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    Stream* st = stream_of(session, frame->hd.stream_id);
    if (st && !st->complete) {
      st->complete = true;
      c->ready.push_back(st);  // dispatched after nghttp2 returns: no Lisp inside its callbacks
    }
  }
  return 0;
}

int on_stream_close(nghttp2_session* session, int32_t id, uint32_t error_code, void* user) {
  auto* c = static_cast<Connection*>(user);
  Stream* st = stream_of(session, id);
  if (!st) return 0;
  nghttp2_session_set_stream_user_data(session, id, nullptr);
  for (auto& r : c->ready)
    if (r == st) r = nullptr;
  // The request's duration runs until its response has been sent.
  if (st->responded && st->start_ns)
    M().server_request_duration.observe_ns(uv_hrtime() - st->start_ns);
  if (st->out && error_code != NGHTTP2_NO_ERROR && st->out_end == aio::StreamEnd::Closed)
    st->out_end = aio::StreamEnd::Reset;
  stream_free(st);
  return 0;
}

// Detaches a stream and frees it; a handler still running is cancelled.
void stream_free(Stream* st) {
  Connection* c = st->conn;
  if (st->prev) st->prev->next = st->next;
  else if (c->streams == st) c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  M().server_streams_active.dec();
  if (st->dispatched) --c->srv->inflight;
  if (st->watch) st->watch->ctx = nullptr;
  if (st->req) st->req->live = nullptr;
  if (st->body_watch) st->body_watch->ctx = nullptr;
  if (st->file_job) detach_file_job(st->file_job);  // (its callback closes what it opened)
  if (st->file_fd >= 0) {
    close_fd(st->file_fd);
    st->file_fd = -1;
  }
  if (st->deadline_watch) {
    st->deadline_watch->ctx = nullptr;
    aio::cancel(st->deadline);
  }
  // Streams end first (on-close runs, a waiting producer is cancelled),
  // then the handler's own work.
  if (st->out) {
    M().server_response_streams.dec();
    aio::StreamEnd why = st->out_end;
    if (why == aio::StreamEnd::Closed && !st->out->close_requested) why = aio::StreamEnd::Reset;
    aio::ended(st->out, why);
  }
  if (st->in) {
    if (!st->in_done)
      aio::push_end(st->in, make_error("stream/read: the request body did not finish (the client "
                                       "reset the stream or went away)"));
    aio::ended(st->in, st->in_done ? aio::StreamEnd::Closed : aio::StreamEnd::Reset);
  }
  if (st->work && !aio::settled(st->work)) aio::cancel(st->work);
  gc_delete_pinned(st);
}

bool is_request(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kRequestClass;
}
Request* as_request(Value v) { return static_cast<Request*>(reinterpret_cast<Opaque*>(v)->payload); }

}  // namespace valk::http
