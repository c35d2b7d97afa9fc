// Request contexts (src/aio/context.h): the C++ API the HTTP server uses.
#include <gc/gc.h>
#include <gtest/gtest.h>

#include <string>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/context.h"
#include "aio/handle.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"
#include "http/client.h"

using namespace valk;

namespace {

VM& vm() {
  static VM* v = new VM;
  return *v;
}

Value ev(const std::string& src) { return vm().eval_source(src, intern_filename("<test>")); }
std::string evs(const std::string& src) { return repr_string(ev(src)); }
Value kw(const char* s) { return intern(s); }

aio::Handle* g_target = nullptr;  // static: scanned by the collector

// Makes a context whose only reference is held by the handle and job queued
// under it, so that a collection right after can only keep it through them.
__attribute__((noinline)) void queue_under_fresh_context() {
  std::string big(200, 'x');
  Value ctx = aio::make_context(kNil, 0, cons(kw(":k"), cons(make_string(big), kNil)));
  Value fn = ev("(fn () (list (ctx/get :k) (trace/id)))");
  aio::with_context(ctx, [&] {
    g_target = aio::new_handle(vm(), aio::Kind::Adopt);
    aio::queue_job(vm(), fn, kNil, g_target, aio::JobKind::Resolve);
  });
}

}  // namespace

TEST(Context, MakeContextInheritsAndTakesTheEarlierDeadline) {
  vm();
  Value a = aio::make_context(kNil, 5000, cons(kw(":a"), cons(make_fix(1), kNil)));
  ASSERT_TRUE(aio::is_context(a));
  EXPECT_EQ(aio::context_deadline(a), 5000);
  Value b = aio::make_context(a, 9000, cons(kw(":b"), cons(make_fix(2), kNil)));
  EXPECT_EQ(aio::context_deadline(b), 5000) << "the parent's is earlier";
  Value c = aio::make_context(b, 100, cons(kw(":a"), cons(make_fix(3), kNil)));
  EXPECT_EQ(aio::context_deadline(c), 100);
  EXPECT_EQ(repr_string(aio::as_context(c)->locals), "{:a 3 :b 2}") << "rebinding :a replaces it";
  EXPECT_EQ(aio::trace_id_hex(a), aio::trace_id_hex(c)) << "one trace";
  EXPECT_EQ(aio::as_context(a)->span_id, aio::as_context(c)->span_id);
  EXPECT_EQ(aio::context_deadline(aio::make_context(kNil, 0, kNil)), 0) << "no deadline";
  EXPECT_NE(aio::trace_id_hex(a), aio::trace_id_hex(aio::make_context(kNil, 0, kNil)));
}

TEST(Context, SpansAndTraceparent) {
  vm();
  Value a = aio::make_context(kNil, 0, kNil);
  Value s = aio::new_span(a);
  EXPECT_EQ(aio::trace_id_hex(a), aio::trace_id_hex(s));
  EXPECT_EQ(aio::as_context(s)->parent_span_id, aio::as_context(a)->span_id);
  EXPECT_NE(aio::as_context(s)->span_id, aio::as_context(a)->span_id);
  std::string tp = aio::traceparent(s);
  ASSERT_EQ(tp.size(), 55u);
  EXPECT_EQ(tp.substr(0, 3), "00-");
  EXPECT_EQ(tp.substr(52), "-01");

  Value in = aio::context_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(aio::trace_id_hex(in), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(aio::span_id_hex(aio::as_context(in)->parent_span_id), "00f067aa0ba902b7");
  EXPECT_NE(aio::as_context(in)->span_id, 0u);
  for (const char* bad : {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    Value c = aio::context_from_traceparent(bad);
    EXPECT_TRUE(aio::is_context(c)) << bad;
    EXPECT_EQ(aio::as_context(c)->parent_span_id, 0u) << "a fresh trace for " << bad;
    EXPECT_NE(aio::trace_id_hex(c), "4bf92f3577b34da6a3ce929d0e0e4736") << bad;
  }
}

TEST(Context, WithContextRestoresThePreviousOne) {
  vm();
  Value outer = aio::make_context(kNil, 0, kNil), inner = aio::make_context(kNil, 0, kNil);
  aio::with_context(outer, [&] {
    EXPECT_EQ(aio::current_context(), outer);
    aio::with_context(inner, [&] { EXPECT_EQ(aio::current_context(), inner); });
    EXPECT_EQ(aio::current_context(), outer);
  });
  EXPECT_EQ(aio::current_context(), kNil);
}

TEST(Context, SurvivesACollectionAndRunsItsJobUnderIt) {
  vm();
  queue_under_fresh_context();
  EXPECT_EQ(aio::current_context(), kNil) << "with_context restored nil";
  for (int i = 0; i < 3; ++i) {
    evs("(map (fn (i) (str \"garbage \" i)) (range 0 2000))");
    GC_gcollect();
  }
  ev("(aio/run)");
  ASSERT_EQ(g_target->state, aio::State::Completed);
  Value r = g_target->result;
  ASSERT_TRUE(is_cons(r));
  EXPECT_EQ(display_string(car(r)), std::string(200, 'x')) << "the local survived the collections";
  EXPECT_TRUE(is_string(car(cdr(r))));
  EXPECT_EQ(aio::current_context(), kNil) << "the job restored the context before it";
  g_target = nullptr;
}

TEST(Context, AJobWithoutTargetRunsUnderTheContextCurrentWhenQueued) {
  vm();
  Value ctx = aio::make_context(kNil, 0, cons(kw(":who"), cons(make_string("q"), kNil)));
  ev("(def ctx-unit-seen nil)");
  Value fn = ev("(fn () (def ctx-unit-seen (ctx/get :who)))");
  aio::with_context(ctx, [&] { aio::queue_job(vm(), fn, kNil, nullptr, aio::JobKind::Ignore); });
  ev("(aio/run)");
  EXPECT_EQ(evs("ctx-unit-seen"), "\"q\"");
}

TEST(Context, ATimerUnderADeadlineFailsAtIt) {
  vm();
  aio::set_virtual_time(true);
  int64_t t0 = aio::now_us();
  aio::Handle* h = nullptr;
  aio::with_context(aio::make_context(kNil, t0 + 5000, kNil), [&] { h = aio::sleep(vm(), 100, kNil); });
  ev("(aio/run)");
  ASSERT_EQ(h->state, aio::State::Failed);
  EXPECT_TRUE(aio::is_deadline_error(h->result)) << repr_string(h->result);
  EXPECT_EQ(aio::now_us() - t0, 5000) << "at the deadline";
  EXPECT_EQ(aio::remaining_us(h->ctx), 0);
  aio::set_virtual_time(false);
}

TEST(Context, RequestsGetTheHeadersAndACappedTimeout) {
  vm();
  http::ClientRequest req;
  EXPECT_EQ(aio::apply_context_to_request(req), -1) << "no context: nothing";
  EXPECT_TRUE(req.headers.empty());
  aio::set_virtual_time(true);
  Value ctx = aio::make_context(kNil, aio::now_us() + 2'500'000, kNil);
  aio::with_context(ctx, [&] { EXPECT_EQ(aio::apply_context_to_request(req), 2'500'000); });
  ASSERT_EQ(req.headers.size(), 2u);
  EXPECT_EQ(req.headers[0].first, "traceparent");
  EXPECT_EQ(req.headers[0].second, aio::traceparent(ctx));
  EXPECT_EQ(req.headers[1].first, "x-valk-deadline-ms");
  EXPECT_EQ(req.headers[1].second, "2500");
  EXPECT_LE(req.timeout_ms, 2600) << "capped at the deadline (and its grace)";
  aio::set_virtual_time(false);
}

TEST(Context, DeadlineFromTheIncomingHeader) {
  vm();
  aio::set_virtual_time(true);
  int64_t now = aio::now_us();
  EXPECT_EQ(aio::deadline_from_header("250"), now + 250'000);
  EXPECT_EQ(aio::deadline_from_header("0"), now) << "no time left";
  for (const char* bad : {"", "-5", "1.5", "12ms", " 7", "99999999999999999999"})
    EXPECT_EQ(aio::deadline_from_header(bad), 0) << bad;
  aio::set_virtual_time(false);
}
