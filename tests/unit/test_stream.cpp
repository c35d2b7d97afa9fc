// Byte streams (aio/stream.h) against a fake transport: the watermarks, the
// drain and end events, and reads that never lose or repeat a byte when
// cancelled.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aio/handle.h"
#include "aio/stream.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"

using namespace valk;
using aio::ByteStream;

namespace {

VM& vm() {
  static VM* v = new VM;
  return *v;
}

// Records what the stream asked of it.
struct Fake {
  int wakes = 0;
  size_t consumed = 0;
  int aborts = 0;
  aio::StreamEnd abort_why = aio::StreamEnd::Open;
};
Fake* fake_of(ByteStream* s) { return static_cast<Fake*>(s->transport); }
const aio::StreamTransport kFake = {
    "fake", [](ByteStream* s) { ++fake_of(s)->wakes; },
    [](ByteStream* s, size_t n) { fake_of(s)->consumed += n; },
    [](ByteStream* s, aio::StreamEnd why) {
      ++fake_of(s)->aborts;
      fake_of(s)->abort_why = why;
    }};

ByteStream* sink(Fake& f, size_t high, size_t low) {
  vm();
  ByteStream* s = aio::new_stream(&kFake, &f, true, false);
  s->high = high;
  s->low = low;
  return s;
}

std::string take_all(ByteStream* s, bool* eof) {
  std::string out;
  char buf[7];
  size_t n;
  while ((n = aio::take(s, buf, sizeof buf, eof)) > 0) out.append(buf, n);
  aio::after_take(s);
  return out;
}

TEST(ByteStream, WritesPastTheHighWatermarkAreRefused) {
  Fake f;
  ByteStream* s = sink(f, 10, 4);
  std::string why;
  EXPECT_TRUE(aio::write(s, "12345678", &why));
  EXPECT_EQ(f.wakes, 1);
  EXPECT_TRUE(aio::writable_now(s));
  EXPECT_FALSE(aio::write(s, "abc", &why)) << "8 + 3 > 10";
  EXPECT_NE(why.find("queue full"), std::string::npos);
  EXPECT_TRUE(aio::write(s, "ab", &why));
  EXPECT_FALSE(aio::writable_now(s));
  // An empty queue takes any size, so that no write is refused for ever.
  bool eof;
  EXPECT_EQ(take_all(s, &eof), "12345678ab");
  EXPECT_FALSE(eof);
  EXPECT_TRUE(aio::write(s, std::string(100, 'x'), &why));
}

TEST(ByteStream, DrainCompletesBelowTheLowWatermarkOnly) {
  Fake f;
  ByteStream* s = sink(f, 100, 10);
  aio::Handle* at_once = aio::drain(vm(), s);
  EXPECT_EQ(at_once->state, aio::State::Completed) << "an empty queue is drained";
  std::string why;
  ASSERT_TRUE(aio::write(s, std::string(50, 'x'), &why));
  aio::Handle* d = aio::drain(vm(), s);
  EXPECT_FALSE(aio::settled(d));
  char buf[45];
  bool eof;
  ASSERT_EQ(aio::take(s, buf, 35, &eof), 35u);  // 15 left: still above low
  aio::after_take(s);
  EXPECT_FALSE(aio::settled(d));
  ASSERT_EQ(aio::take(s, buf, 10, &eof), 10u);  // 5 left
  aio::after_take(s);
  EXPECT_EQ(d->state, aio::State::Completed);
  EXPECT_EQ(d->result, aio::stream_value(s));
}

TEST(ByteStream, CloseSendsTheQueueThenTheEnd) {
  Fake f;
  ByteStream* s = sink(f, 100, 10);
  std::string why;
  ASSERT_TRUE(aio::write(s, "data", &why));
  aio::close(s);
  EXPECT_FALSE(aio::write(s, "more", &why)) << "no write after close";
  EXPECT_NE(why.find("closing"), std::string::npos);
  bool eof = false;
  EXPECT_EQ(take_all(s, &eof), "data");
  EXPECT_TRUE(eof);
  aio::Handle* closed = aio::closed_handle(vm(), s);
  EXPECT_FALSE(aio::settled(closed)) << "ends when the transport says so";
  aio::ended(s, aio::StreamEnd::Closed);
  ASSERT_EQ(closed->state, aio::State::Completed);
  EXPECT_EQ(repr_string(closed->result), ":closed");
}

TEST(ByteStream, TheEndCancelsWaitingProducersAndRunsOnCloseOnce) {
  Fake f;
  ByteStream* s = sink(f, 100, 10);
  std::string why;
  ASSERT_TRUE(aio::write(s, std::string(60, 'x'), &why));
  aio::Handle* d = aio::drain(vm(), s);
  s->on_close = vm().eval_source("(fn () (def %closed-count (+ %closed-count 1)))",
                                 intern_filename("<test>"));
  vm().eval_source("(def %closed-count 0)", intern_filename("<test>"));
  aio::ended(s, aio::StreamEnd::Reset);
  aio::ended(s, aio::StreamEnd::Closed);  // idempotent
  EXPECT_EQ(d->state, aio::State::Cancelled);
  EXPECT_FALSE(aio::write(s, "x", &why));
  EXPECT_NE(why.find("reset"), std::string::npos);
  EXPECT_EQ(aio::drain(vm(), s)->state, aio::State::Cancelled);
  EXPECT_EQ(repr_string(aio::closed_handle(vm(), s)->result), ":reset");
  // The callback is a job: it runs when the program drains its jobs.
  EXPECT_EQ(repr_string(vm().eval_source("(do (aio/await (aio/sleep 0)) %closed-count)",
                                         intern_filename("<test>"))),
            "1");
}

TEST(ByteStream, CancelAbortsTheTransport) {
  Fake f;
  ByteStream* s = sink(f, 100, 10);
  std::string why;
  ASSERT_TRUE(aio::write(s, "abc", &why));
  aio::cancel_stream(s, aio::StreamEnd::Cancelled);
  EXPECT_EQ(f.aborts, 1);
  EXPECT_EQ(f.abort_why, aio::StreamEnd::Cancelled);
  EXPECT_EQ(s->end, aio::StreamEnd::Cancelled);
  EXPECT_EQ(aio::queued(s), 0u);
}

ByteStream* source(Fake& f) {
  vm();
  return aio::new_stream(&kFake, &f, false, true);
}

TEST(ByteStream, ReadsTakeWhatArrivedAndOpenTheWindowByThatMuch) {
  Fake f;
  ByteStream* s = source(f);
  aio::Handle* r1 = aio::read(vm(), s, 4);
  EXPECT_FALSE(aio::settled(r1));
  aio::push(s, "abcdefg", 7);
  ASSERT_EQ(r1->state, aio::State::Completed);
  EXPECT_EQ(repr_string(r1->result), "\"abcd\"");
  EXPECT_EQ(f.consumed, 4u) << "only what was read";
  aio::Handle* r2 = aio::read(vm(), s, 100);
  EXPECT_EQ(repr_string(r2->result), "\"efg\"");
  EXPECT_EQ(f.consumed, 7u);
  aio::Handle* r3 = aio::read(vm(), s, 100);
  aio::push_end(s, kNil);
  ASSERT_EQ(r3->state, aio::State::Completed);
  EXPECT_EQ(r3->result, kNil) << "nil at the end";
}

TEST(ByteStream, ACancelledReadLosesNothing) {
  Fake f;
  ByteStream* s = source(f);
  aio::Handle* a = aio::read(vm(), s, 100);
  aio::Handle* b = aio::read(vm(), s, 100);
  aio::cancel(a);
  EXPECT_EQ(a->state, aio::State::Cancelled);
  aio::push(s, "xyz", 3);
  ASSERT_EQ(b->state, aio::State::Completed);
  EXPECT_EQ(repr_string(b->result), "\"xyz\"") << "the bytes go to the read still waiting";
  // Many readers, some cancelled, over many pushes: in the order the reads
  // were made, the completed ones hold every byte once.
  std::vector<aio::Handle*> reads;
  for (int i = 0; i < 200; ++i) {
    aio::Handle* r = aio::read(vm(), s, 3);
    aio::Handle* c = aio::read(vm(), s, 2);
    reads.push_back(r);
    reads.push_back(c);
    if (i % 3 == 1) aio::cancel(r);
    if (i % 5 == 2) aio::cancel(c);
    std::string piece = std::to_string(i) + ",";
    aio::push(s, piece.data(), piece.size());
  }
  aio::push_end(s, kNil);
  std::string got;
  for (aio::Handle* h : reads)
    if (h->state == aio::State::Completed && h->result != kNil) got += as_string(h->result)->view();
  aio::Handle* rest = aio::read_all(vm(), s, 1u << 20);
  ASSERT_EQ(rest->state, aio::State::Completed);
  got += as_string(rest->result)->view();
  std::string want;
  for (int i = 0; i < 200; ++i) want += std::to_string(i) + ",";
  EXPECT_EQ(got, want);
}

TEST(ByteStream, ReadAllRefusesPastItsLimit) {
  Fake f;
  ByteStream* s = source(f);
  aio::Handle* all = aio::read_all(vm(), s, 5);
  aio::push(s, "abc", 3);
  EXPECT_FALSE(aio::settled(all));
  aio::push(s, "def", 3);
  ASSERT_EQ(all->state, aio::State::Failed);
  Fake g;
  ByteStream* t = source(g);
  aio::push(t, "ab", 2);
  aio::Handle* whole = aio::read_all(vm(), t, 100);
  aio::push(t, "cd", 2);
  aio::push_end(t, kNil);
  ASSERT_EQ(whole->state, aio::State::Completed);
  EXPECT_EQ(repr_string(whole->result), "\"abcd\"");
  EXPECT_EQ(g.consumed, 4u);
}

TEST(ByteStream, AnEarlyEndFailsPendingReads) {
  Fake f;
  ByteStream* s = source(f);
  aio::Handle* r = aio::read(vm(), s, 10);
  aio::ended(s, aio::StreamEnd::Reset);
  ASSERT_EQ(r->state, aio::State::Failed);
  EXPECT_NE(display_string(aio::failure_as_error(r)).find("reset"), std::string::npos);
}

}  // namespace
