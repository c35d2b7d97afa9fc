// Request contexts: the values, trace ids, deadlines (see context.h).
#include "aio/context.h"

#include <cctype>
#include <cstdio>
#include <random>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/handle.h"
#include "core/gc.h"
#include "core/printer.h"
#include "http/client.h"

namespace valk::aio {

namespace {

constexpr long kDeadlineGraceMs = 100;

void print_context(std::string& out, const Opaque* self) {
  Value v = obj_val(const_cast<Opaque*>(self));
  out += "<context " + trace_id_hex(v);
  int64_t left = remaining_us(v);
  if (left >= 0) out += " deadline-in " + std::to_string(left / 1000) + "ms";
  if (as_context(v)->locals != kNil) out += " " + repr_string(as_context(v)->locals);
  out += '>';
}
const OpaqueClass kContextClass = {"context", print_context};

// xorshift128+, seeded once per runtime from the system's entropy: trace
// ids need to be unique, not secret.
uint64_t next_id() {
  uint64_t* s = rt().async.trace_state;
  if (s[0] == 0 && s[1] == 0) {
    std::random_device rd;
    s[0] = (uint64_t(rd()) << 32) ^ rd();
    s[1] = (uint64_t(rd()) << 32) ^ rd() ^ uint64_t(now_us());
    if (s[0] == 0 && s[1] == 0) s[1] = 0x9e3779b97f4a7c15ull;
  }
  for (;;) {
    uint64_t x = s[0], y = s[1];
    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    uint64_t r = s[1] + y;
    if (r) return r;
  }
}

Context* alloc_context() {
  auto* c = static_cast<Context*>(gc_alloc(sizeof(Context)));
  c->base.h = {Type::Opaque, 0, 0, 0};
  c->base.cls = &kContextClass;
  c->base.payload = c;
  c->locals = kNil;
  c->deadline_us = 0;
  c->trace_hi = c->trace_lo = 0;
  c->span_id = c->parent_span_id = 0;
  return c;
}

Context* copy_or_fresh(Value parent) {
  Context* c = alloc_context();
  if (is_context(parent)) {
    Context* p = as_context(parent);
    c->locals = p->locals;
    c->deadline_us = p->deadline_us;
    c->trace_hi = p->trace_hi;
    c->trace_lo = p->trace_lo;
    c->span_id = p->span_id;
    c->parent_span_id = p->parent_span_id;
  } else {
    c->trace_hi = next_id();
    c->trace_lo = next_id();
    c->span_id = next_id();
  }
  return c;
}

// locals with key bound to v (an earlier binding of key is dropped).
Value bind_local(Value locals, Value key, Value v) {
  ListBuilder b(true);
  b.push(key);
  b.push(v);
  for (Value p = locals; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p))) {
    if (values_equal(car(p), key)) continue;
    b.push(car(p));
    b.push(car(cdr(p)));
  }
  return b.result();
}

std::string hex64(uint64_t v) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

bool parse_hex(std::string_view s, uint64_t& out) {
  out = 0;
  for (char ch : s) {
    int d = isdigit((unsigned char)ch) ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
    if (d < 0) return false;
    out = out << 4 | uint64_t(d);
  }
  return true;
}

}  // namespace

bool is_context(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kContextClass;
}

Value set_current_context(Value ctx) {
  Value before = rt().async.context;
  rt().async.context = ctx;
  return before;
}

Value make_context(Value parent, int64_t deadline_us, Value locals) {
  Context* c = copy_or_fresh(parent);
  if (deadline_us > 0 && (c->deadline_us == 0 || deadline_us < c->deadline_us))
    c->deadline_us = deadline_us;
  for (Value p = locals; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p)))
    c->locals = bind_local(c->locals, car(p), car(cdr(p)));
  return obj_val(c);
}

Value without_deadline(Value ctx) {
  if (!is_context(ctx) || as_context(ctx)->deadline_us == 0) return ctx;
  Context* c = copy_or_fresh(ctx);
  c->deadline_us = 0;
  return obj_val(c);
}

Value new_span(Value parent) {
  Context* c = copy_or_fresh(parent);
  if (is_context(parent)) {
    c->parent_span_id = as_context(parent)->span_id;
    c->span_id = next_id();
  }
  return obj_val(c);
}

Value context_from_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags
  uint64_t ver, hi, lo, span, flags;
  if (h.size() >= 55 && h[2] == '-' && h[35] == '-' && h[52] == '-' && parse_hex(h.substr(0, 2), ver) &&
      ver != 0xff && parse_hex(h.substr(3, 16), hi) && parse_hex(h.substr(19, 16), lo) &&
      parse_hex(h.substr(36, 16), span) && parse_hex(h.substr(53, 2), flags) && (hi || lo) && span &&
      (h.size() == 55 || (ver > 0 && h[55] == '-'))) {
    Context* c = alloc_context();
    c->trace_hi = hi;
    c->trace_lo = lo;
    c->parent_span_id = span;
    c->span_id = next_id();
    return obj_val(c);
  }
  return make_context(kNil, 0, kNil);
}

int64_t remaining_us(Value ctx) {
  if (!is_context(ctx) || as_context(ctx)->deadline_us == 0) return -1;
  int64_t left = as_context(ctx)->deadline_us - now_us();
  return left > 0 ? left : 0;
}

Value deadline_error() { return make_error("deadline exceeded"); }
bool is_deadline_error(Value v) {
  return is_error(v) && is_string(as_error(v)->message) &&
         as_string(as_error(v)->message)->view() == "deadline exceeded";
}

std::string trace_id_hex(Value ctx) {
  if (!is_context(ctx)) return std::string(32, '0');
  return hex64(as_context(ctx)->trace_hi) + hex64(as_context(ctx)->trace_lo);
}
std::string span_id_hex(uint64_t span) { return hex64(span); }
std::string traceparent(Value ctx) {
  return "00-" + trace_id_hex(ctx) + "-" + span_id_hex(is_context(ctx) ? as_context(ctx)->span_id : 0) +
         "-01";
}

int64_t deadline_from_header(std::string_view ms) {
  if (ms.empty() || ms.size() > 15) return 0;  // (15 digits: no overflow below)
  int64_t v = 0;
  for (char ch : ms) {
    if (!isdigit((unsigned char)ch)) return 0;
    v = v * 10 + (ch - '0');
  }
  int64_t us = v >= kMaxDelayUs / 1000 ? kMaxDelayUs : v * 1000;
  int64_t at = now_us() + us;
  return at > 0 ? at : 1;
}

int64_t apply_context_to_request(http::ClientRequest& req) {
  Value ctx = current_context();
  if (!is_context(ctx)) return -1;
  auto has = [&](std::string_view name) {
    for (auto& [n, v] : req.headers) {
      if (n.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < n.size() && same; ++i) same = tolower((unsigned char)n[i]) == name[i];
      if (same) return true;
    }
    return false;
  };
  if (!has("traceparent")) req.headers.emplace_back("traceparent", traceparent(ctx));
  int64_t left = remaining_us(ctx);
  if (left < 0) return -1;
  long left_ms = long(left / 1000);
  if (!has(kDeadlineHeader)) req.headers.emplace_back(kDeadlineHeader, std::to_string(left_ms));
  // The transfer is cut off exactly at the deadline by the loop's timer
  // (fetch_in_context); curl's own limit is a backstop just past it, so that
  // it never fires first and the failure is always the deadline's.
  long cap = left_ms + kDeadlineGraceMs;
  if (req.timeout_ms <= 0 || req.timeout_ms > cap) req.timeout_ms = cap;
  if (req.connect_timeout_ms <= 0 || req.connect_timeout_ms > cap) req.connect_timeout_ms = cap;
  return left;
}

Handle* fetch_in_context(VM& vm, http::ClientRequest& req) {
  int64_t left = apply_context_to_request(req);
  Handle* h = http::fetch(vm, req);
  if (left < 0 || settled(h)) return h;
  // A within of the longest delay: its timer is capped at the deadline.
  return within(vm, h, kMaxDelayUs / 1000);
}

}  // namespace valk::aio
