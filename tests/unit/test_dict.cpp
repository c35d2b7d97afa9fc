// The dict table (core/dict.h): hashing agrees with values_equal, and a long
// random mix of sets and deletes matches std::map.
#include <gc/gc.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/dict.h"
#include "core/printer.h"

using namespace valk;

namespace {

const bool gc_ready = [] {
  GC_INIT();
  return true;
}();

TEST(Dict, EqualNumbersHashAlike) {
  EXPECT_EQ(hash_value(make_int(1)), hash_value(make_float(1.0)));
  EXPECT_EQ(hash_value(make_float(0.0)), hash_value(make_float(-0.0)));
  EXPECT_EQ(hash_value(make_int(-7)), hash_value(make_float(-7.0)));
  // Past 2^53 ints compare with floats as doubles.
  int64_t big = (int64_t(1) << 60) + 1;
  ASSERT_TRUE(values_equal(make_int(big), make_float(double(big))));
  EXPECT_EQ(hash_value(make_int(big)), hash_value(make_float(double(big))));
  EXPECT_EQ(hash_value(make_int(INT64_MAX)), hash_value(make_float(double(INT64_MAX))));
}

TEST(Dict, EqualListsAndStringsHashAlike) {
  Value a = cons(make_int(1), cons(make_string("x"), kNil), true);
  Value b = cons(make_float(1.0), cons(make_string("x"), kNil), false);
  ASSERT_TRUE(values_equal(a, b));
  EXPECT_EQ(hash_value(a), hash_value(b));
  EXPECT_EQ(hash_value(make_string("hello")), hash_value(make_string("hello")));
}

TEST(Dict, FloatKeyFindsIntKey) {
  Value d = make_dict();
  dict_set(as_dict(d), make_int(3), make_string("three"));
  EXPECT_EQ(display_string(dict_get(as_dict(d), make_float(3.0))), "three");
  EXPECT_EQ(dict_get(as_dict(d), make_float(3.5)), kUnbound);
}

TEST(Dict, RandomSetsAndDeletesMatchStdMap) {
  std::mt19937 rng(12345);
  Value d = make_dict();
  std::map<int64_t, int64_t> ref;
  for (int step = 0; step < 200000; ++step) {
    int64_t k = rng() % 3000;
    if (rng() % 3 == 0) {
      EXPECT_EQ(dict_del(as_dict(d), make_int(k)), ref.erase(k) == 1);
    } else {
      dict_set(as_dict(d), make_int(k), make_int(step));
      ref[k] = step;
    }
  }
  ASSERT_EQ(as_dict(d)->count, ref.size());
  for (auto [k, v] : ref) ASSERT_EQ(dict_get(as_dict(d), make_int(k)), make_int(v));
  size_t live = 0;
  dict_for_each(as_dict(d), [&](Value k, Value) {
    ++live;
    EXPECT_TRUE(ref.count(int_val(k)));
  });
  EXPECT_EQ(live, ref.size());
}

TEST(Dict, InsertionOrderSurvivesGrowthAndDeletes) {
  Value d = make_dict();
  for (int i = 0; i < 100; ++i) dict_set(as_dict(d), make_int(i), kTrue);
  for (int i = 0; i < 100; i += 2) dict_del(as_dict(d), make_int(i));
  for (int i = 100; i < 1000; ++i) dict_set(as_dict(d), make_int(i), kTrue);
  int64_t prev = -1;
  dict_for_each(as_dict(d), [&](Value k, Value) {
    EXPECT_GT(int_val(k), prev);
    prev = int_val(k);
  });
}

TEST(Dict, CopyIsIndependent) {
  Value d = make_dict();
  dict_set(as_dict(d), make_int(1), make_int(1));
  Value c = dict_copy(as_dict(d));
  dict_set(as_dict(c), make_int(1), make_int(2));
  EXPECT_EQ(dict_get(as_dict(d), make_int(1)), make_int(1));
  EXPECT_TRUE(values_equal(d, d));
  EXPECT_FALSE(values_equal(d, c));
}

}  // namespace
