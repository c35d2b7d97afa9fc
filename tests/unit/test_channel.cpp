// Channels (aio/channel.h) from C++: FIFO, backpressure, close, select,
// and a randomized run of puts, takes, selects and cancels checking that
// every value that entered the channel is taken exactly once and that no
// cancelled put's value is ever taken.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "aio/channel.h"
#include "aio/handle.h"
#include "aio/sync.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"

using namespace valk;
using aio::Channel;
using aio::Handle;
using aio::State;

namespace {

VM& vm() {
  static VM* v = new VM;
  return *v;
}

TEST(Channel, BufferedIsFifoAndPrints) {
  vm();
  Channel* c = aio::new_channel(2);
  Handle* p1 = aio::put(vm(), c, make_fix(1));
  Handle* p2 = aio::put(vm(), c, make_fix(2));
  Handle* p3 = aio::put(vm(), c, make_fix(3));
  EXPECT_EQ(p1->state, State::Completed);
  EXPECT_EQ(p2->state, State::Completed);
  EXPECT_FALSE(aio::settled(p3)) << "full: backpressure";
  EXPECT_NE(repr_string(aio::channel_value(c)).find("open 2/2"), std::string::npos);
  Handle* t = aio::take(vm(), c);
  EXPECT_EQ(t->result, make_fix(1));
  EXPECT_EQ(p3->state, State::Completed) << "a take made room";
  EXPECT_EQ(aio::try_take(c), make_fix(2));
  EXPECT_EQ(aio::try_take(c), make_fix(3));
  EXPECT_EQ(aio::try_take(c), aio::empty_marker());
}

TEST(Channel, CancelledTakerIsSkipped) {
  vm();
  Channel* c = aio::new_channel(0);
  Handle* t1 = aio::take(vm(), c);
  Handle* t2 = aio::take(vm(), c);
  aio::cancel(t1);
  Handle* p = aio::put(vm(), c, make_fix(7));
  EXPECT_EQ(t1->state, State::Cancelled);
  EXPECT_EQ(t2->state, State::Completed);
  EXPECT_EQ(t2->result, make_fix(7));
  EXPECT_EQ(p->state, State::Completed);
}

TEST(Channel, CloseFailsPutsAndEndsTakes) {
  vm();
  Channel* c = aio::new_channel(1);
  aio::put(vm(), c, make_fix(1));
  Handle* p = aio::put(vm(), c, make_fix(2));
  aio::close(c);
  EXPECT_EQ(p->state, State::Failed);
  aio::mark_handled(p);
  EXPECT_EQ(aio::take(vm(), c)->result, make_fix(1));
  EXPECT_EQ(aio::take(vm(), c)->result, aio::closed_marker());
  Handle* late = aio::put(vm(), c, make_fix(3));
  EXPECT_EQ(late->state, State::Failed);
  aio::mark_handled(late);
}

TEST(Channel, SelectFiresOnceAndWithdrawsTheRest) {
  vm();
  Channel* a = aio::new_channel(0);
  Channel* b = aio::new_channel(0);
  aio::SelectOp ops[] = {{true, a, kNil}, {false, b, make_fix(9)}};
  Handle* s = aio::select(vm(), ops, 2);
  EXPECT_FALSE(aio::settled(s));
  EXPECT_EQ(aio::pending_takers(a), 1u);
  EXPECT_EQ(aio::pending_putters(b), 1u);
  Handle* p = aio::put(vm(), a, make_fix(1));
  EXPECT_EQ(p->state, State::Completed);
  ASSERT_EQ(s->state, State::Completed);
  EXPECT_EQ(car(s->result), aio::channel_value(a));
  EXPECT_EQ(aio::pending_putters(b), 0u) << "the put registration is withdrawn";
  EXPECT_EQ(aio::try_take(b), aio::empty_marker()) << "9 was never offered after the select fired";
}

// The randomized run: a model of what has entered the channels.
TEST(Channel, RandomizedNoLossNoDuplicate) {
  vm();
  std::mt19937 rng(12345);
  auto r = [&](unsigned n) { return unsigned(rng() % n); };
  std::vector<Channel*> chans = {aio::new_channel(0), aio::new_channel(1), aio::new_channel(4)};
  struct Put {
    Handle* h;
    int64_t v;
  };
  std::vector<Put> puts;
  std::vector<Handle*> takes;  // plain takes (value) and selects over takes ((ch v))
  std::vector<Handle*> pending;
  std::vector<int64_t> taken_now;  // by try-take
  std::vector<int64_t> put_now;    // by try-put
  int64_t next = 1;
  for (int step = 0; step < 20000; ++step) {
    Channel* c = chans[r(3)];
    switch (r(7)) {
      case 0:
      case 1: {
        int64_t v = next++;
        Handle* h = aio::put(vm(), c, make_fix(v));
        puts.push_back({h, v});
        pending.push_back(h);
        break;
      }
      case 2:
      case 3: {
        Handle* h;
        if (r(2)) {
          h = aio::take(vm(), c);
        } else {
          aio::SelectOp ops[] = {{true, chans[r(3)], kNil}, {true, chans[r(3)], kNil}};
          h = aio::select(vm(), ops, 2);
        }
        takes.push_back(h);
        pending.push_back(h);
        break;
      }
      case 4:  // cancel a random pending operation
        pending.erase(std::remove_if(pending.begin(), pending.end(), [](Handle* h) { return aio::settled(h); }),
                      pending.end());
        if (!pending.empty()) {
          size_t i = r(unsigned(pending.size()));
          aio::cancel(pending[i]);
          pending.erase(pending.begin() + long(i));
        }
        break;
      case 5: {
        int64_t v = next++;
        if (aio::try_put(c, make_fix(v))) put_now.push_back(v);
        break;
      }
      case 6: {
        Value v = aio::try_take(c);
        if (is_int(v)) taken_now.push_back(int_val(v));
        break;
      }
    }
  }
  for (Channel* c : chans) aio::close(c);
  for (Channel* c : chans)
    for (Value v; is_int(v = aio::try_take(c));) taken_now.push_back(int_val(v));
  std::vector<int64_t> entered = put_now, got = taken_now;
  int cancelled_puts = 0, cancelled_takes = 0;
  std::map<int64_t, bool> withdrawn;
  for (auto& p : puts) {
    ASSERT_TRUE(aio::settled(p.h));
    if (p.h->state == State::Completed) entered.push_back(p.v);
    else if (p.h->state == State::Cancelled) ++cancelled_puts, withdrawn[p.v] = true;
    aio::mark_handled(p.h);
  }
  for (Handle* h : takes) {
    ASSERT_TRUE(aio::settled(h));
    if (h->state == State::Cancelled) ++cancelled_takes;
    if (h->state != State::Completed) continue;
    Value v = is_cons(h->result) ? car(cdr(h->result)) : h->result;
    if (is_int(v)) got.push_back(int_val(v));
    else EXPECT_EQ(v, aio::closed_marker());
  }
  for (int64_t v : got) EXPECT_FALSE(withdrawn.count(v)) << "a cancelled put's value was taken: " << v;
  std::sort(entered.begin(), entered.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(entered, got) << "every value that entered is taken exactly once";
  EXPECT_GT(cancelled_puts, 100);
  EXPECT_GT(cancelled_takes, 100);
  EXPECT_GT(got.size(), 1000u);
}

TEST(ChannelSync, SemaphoreSkipsCancelledWaiters) {
  vm();
  aio::Semaphore* s = aio::new_semaphore(1, false);
  Handle* a = aio::acquire(vm(), s);
  Handle* b = aio::acquire(vm(), s);
  Handle* c = aio::acquire(vm(), s);
  EXPECT_EQ(a->state, State::Completed);
  aio::cancel(b);
  EXPECT_TRUE(aio::release(s));
  EXPECT_EQ(c->state, State::Completed) << "the permit skipped the cancelled waiter";
  EXPECT_TRUE(aio::release(s));
  EXPECT_FALSE(aio::release(s)) << "no permit held";
  EXPECT_EQ(s->permits, 1);
}

TEST(ChannelSync, ShieldDefersCancellation) {
  vm();
  Handle* inner = aio::new_handle(vm(), aio::Kind::External, State::Running);
  Handle* sh = aio::shield(vm(), aio::handle_value(inner));
  EXPECT_TRUE(aio::cancel(sh));
  EXPECT_FALSE(aio::settled(sh)) << "deferred";
  EXPECT_FALSE(aio::settled(inner)) << "not reached";
  aio::complete(inner, make_fix(1));
  EXPECT_EQ(sh->state, State::Cancelled) << "settled once the inner handle ended";
}

}  // namespace
