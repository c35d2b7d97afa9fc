// Streamed bodies: the transports of aio/stream.h for HTTP/2 response
// bodies (stream/open) and request bodies (:stream-bodies, req/body-stream).
#include "http/server_internal.h"

#include "aio/context.h"
#include "core/printer.h"
#include "core/vm.h"

namespace valk::http {

// ---- streamed bodies (docs/streams.md) ----------------------------------------------
// A response stream is pulled by nghttp2 through read_stream_body: with
// nothing queued the data provider defers, and a write resumes it. A request
// body stream is pushed from on_data_chunk; the stream's flow-control window
// is opened only as the program reads (consumed), so an unread body costs at
// most one window of memory.

ssize_t read_stream_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                         nghttp2_data_source* source, void*) {
  auto* st = static_cast<Stream*>(source->ptr);
  aio::ByteStream* bs = st->out;
  bool eof = false;
  size_t n = aio::take(bs, reinterpret_cast<char*>(buf), length, &eof);
  if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (n) st->conn->drained.push_back(bs);  // drain events fire after nghttp2 returns
  if (n == 0 && !eof) {
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return ssize_t(n);
}

Stream* out_owner(aio::ByteStream* bs) { return static_cast<Stream*>(bs->transport); }

void out_wake(aio::ByteStream* bs) {
  Stream* st = out_owner(bs);
  Connection* c = st->conn;
  if (!c->session) return;
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(c->session, st->id);
  }
  request_flush(c);
}

void out_abort(aio::ByteStream* bs, aio::StreamEnd why) {
  Stream* st = out_owner(bs);
  Connection* c = st->conn;
  st->out_end = why;
  if (why == aio::StreamEnd::Timeout) {
    // A timeout ends the body gracefully, after what is queued.
    bs->close_requested = true;
    out_wake(bs);
    return;
  }
  if (c->session) {
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    request_flush(c);
  }
}

const aio::StreamTransport kResponseBody = {"http2", out_wake, nullptr, out_abort};

void in_consumed(aio::ByteStream* bs, size_t n) {
  Stream* st = static_cast<Stream*>(bs->transport);
  st->to_consume += n;
  st->conn->consume_due = true;
  request_flush(st->conn);
}

const aio::StreamTransport kRequestBody = {"http2-request", nullptr, in_consumed, nullptr};

aio::ByteStream* new_request_body(Stream* st) { return aio::new_stream(&kRequestBody, st, false, true); }

// Opens the windows of request bodies the program has read from.
void open_windows(Connection* c) {
  if (!c->consume_due || !c->session) return;
  c->consume_due = false;
  for (Stream* st = c->streams; st; st = st->next)
    if (st->to_consume) {
      nghttp2_session_consume_stream(c->session, st->id, st->to_consume);
      st->to_consume = 0;
    }
}

void fire_drains(Connection* c) {
  if (c->drained.empty()) return;
  TracedVector<aio::ByteStream*> list;
  list.swap(c->drained);
  for (aio::ByteStream* bs : list) aio::after_take(bs);
}

// Submits HEADERS with a deferred body: the stream is the body.
aio::ByteStream* start_stream(Stream* st, int status,
                              std::vector<std::pair<std::string, std::string>> headers) {
  Connection* c = st->conn;
  aio::ByteStream* bs = aio::new_stream(&kResponseBody, st, true, false);
  const ServerOptions& o = c->srv->opts;
  bs->high = o.stream_high_watermark;
  bs->low = o.stream_low_watermark;
  st->out = bs;
  nghttp2_data_provider prov;
  prov.source.ptr = st;
  prov.read_callback = read_stream_body;
  if (submit_head(st, status, headers, &prov) != 0) {
    st->out = nullptr;
    aio::ended(bs, aio::StreamEnd::Reset);
    return nullptr;
  }
  st->responded = true;
  count_request(st, status);
  M().server_response_streams.inc();

  // An open stream is not a request in progress: it no longer counts
  // against :max-inflight (10,000 idle event streams must not shed others).
  if (st->dispatched) {
    st->dispatched = false;
    --c->srv->inflight;
  }
  request_flush(c);
  return bs;
}

// {:status ... :stream f}: the handler's answer is a producer of the body.
void respond_streaming(Stream* st, const Head& head) {
  if (st->responded || !st->conn->session) return;
  aio::ByteStream* bs = start_stream(st, head.status, head.headers);
  if (!bs) return;
  VM& vm = current_vm();
  // The producer runs in the request's context, without its deadline (see
  // open_response_stream).
  Value ctx = st->work ? aio::without_deadline(st->work->ctx) : kNil;
  aio::with_context(ctx, [&] {
    aio::Handle* h = aio::new_handle(vm, aio::Kind::Adopt);
    aio::queue_job(vm, head.stream_fn, cons(aio::stream_value(bs), kNil), h, aio::JobKind::Resolve);
  });
}

// req/read-body past :max-body-bytes answers 413 at once, as a buffered
// body does, and stops the upload (the handler's own answer comes too late).
void on_body_read(void* ctx, aio::Handle* h) {
  auto* st = static_cast<Stream*>(ctx);
  st->body_watch = nullptr;
  if (h->state != aio::State::Failed || st->responded || st->in_done) return;
  respond_text(st, 413, "Payload Too Large\n");
  // The rest of the body is dropped as it comes; the stream is reset a
  // tick after the answer went out (the connection timer), if the client
  // is still sending.
  st->discard_body = true;
  st->body_timed_out_ms = now_ms();
  request_flush(st->conn);
}

Value open_response_stream(VM&, Value req, Value head) {
  if (!is_request(req)) return make_error("stream/open: argument 1 must be a request, got " + describe_type(req));
  auto* st = static_cast<Stream*>(as_request(req)->live);
  if (!st || !st->conn->session)
    return make_error("stream/open: the request has ended (the client went away)");
  if (st->responded)
    return make_error("stream/open: the response has already started");
  Head h;
  if (head != kNil && head != kUnbound) {
    if (!is_list(head) || !parse_head(head, h)) {
      if (is_error(h.failed)) return h.failed;
      return make_error("stream/open: malformed response head " + repr_string(head));
    }
  }
  bool has_type = false;
  for (auto& [n, _] : h.headers) has_type |= n == "content-type";
  if (!has_type) h.headers.push_back({"content-type", "application/octet-stream"});
  aio::ByteStream* bs = start_stream(st, h.status, std::move(h.headers));
  if (!bs) return make_error("stream/open: the response could not be started");
  // The request's deadline was for starting the response: what the handler
  // does from now on (producing the body) is governed by the stream's own
  // timeouts, so SSE and long downloads are not cut. (stream/open runs in
  // the handler's job: the change lasts until the job ends, and the handles
  // it makes from here on carry it.)
  aio::set_current_context(aio::without_deadline(aio::current_context()));
  return aio::stream_value(bs);
}

Value request_body_stream(VM&, Value req) {
  Request* r = as_request(req);
  if (r->body_stream == kNil) {
    // A buffered body: a stream that has all of it and has ended.
    aio::ByteStream* bs = aio::new_stream(nullptr, nullptr, false, true);
    aio::push(bs, as_string(r->body)->data, as_string(r->body)->len);
    aio::push_end(bs, kNil);
    r->body_stream = aio::stream_value(bs);
  }
  return r->body_stream;
}

Value read_request_body(VM& vm, Value req) {
  Request* r = as_request(req);
  if (!r->streamed_body) return aio::handle_value(aio::pure(vm, r->body));
  uint64_t limit = r->max_body_bytes;
  aio::Handle* h = aio::read_all(vm, aio::as_stream(r->body_stream), size_t(limit));
  auto* st = static_cast<Stream*>(r->live);
  if (st && !aio::settled(h) && !st->body_watch) aio::watch(vm, h, on_body_read, st, &st->body_watch);
  else if (st && aio::settled(h)) on_body_read(st, h);
  return aio::handle_value(h);
}

}  // namespace valk::http
