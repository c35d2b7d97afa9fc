// The runtime state (core/runtime.h): one place, and a fresh runtime on demand.
#include <gtest/gtest.h>

#include <string>

#include "aio/clock.h"
#include "aio/handle.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"

using namespace valk;

namespace {

VM& vm() {
  static VM* v = new VM;
  return *v;
}

std::string ev(const std::string& src) {
  return repr_string(vm().eval_source(src, intern_filename("<test>")));
}

}  // namespace

TEST(Runtime, OneStateObjectHoldsTheRuntime) {
  vm();
  EXPECT_EQ(rt().vm, &vm());
  EXPECT_EQ(&current_vm(), &vm());
  uint64_t before = rt().async.counts.created;
  ev("(aio/pure 1)");
  EXPECT_EQ(rt().async.counts.created, before + 1);
  EXPECT_EQ(aio::counts().created, rt().async.counts.created);
}

TEST(Runtime, ResetGivesAFreshRuntime) {
  vm();
  EXPECT_EQ(ev("(def runtime-test-global 42) runtime-test-global"), "42");
  ev("(def runtime-test-pending (list (aio/never) (aio/sleep 100000) (aio/interval 5 (fn () 1))))");
  ASSERT_GT(rt().async.counts.pending, 0u);
  ASSERT_GT(aio::active_timers(), 0u);

  reset_runtime();

  EXPECT_EQ(rt().vm, &vm()) << "the VM carries on in the fresh runtime";
  EXPECT_EQ(rt().async.counts.created, 0u);
  EXPECT_EQ(rt().async.counts.pending, 0u);
  EXPECT_EQ(aio::live_handles(), nullptr);
  EXPECT_EQ(aio::active_timers(), 0u);
  EXPECT_FALSE(rt().loop.started);
  // Globals of the old program are gone; the library is loaded again.
  EXPECT_EQ(ev("(error? runtime-test-global)"), "true");
  EXPECT_EQ(ev("(map (fn (x) (* x x)) (list 1 2 3))"), "{1 4 9}");
  // The async runtime works from scratch: a new loop, new handle ids.
  EXPECT_EQ(ev("(aio/await (aio/delay 1 :fresh))"), ":fresh");
  EXPECT_EQ(ev("(aio/status (aio/pure 1))"), ":completed");
  EXPECT_EQ(rt().async.counts.created, 2u);
}
