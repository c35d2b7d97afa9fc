-- Closure-heavy code: for each i in 0 .. 999,999 create two adder closures,
-- compose them into a third closure and call it; sum the results.
-- Each iteration yields (i + 1) + i, so the sum is 10^12.
-- Expected output: 1000000000000
local function make_adder(n) return function(x) return x + n end end
local function compose(f, g) return function(x) return f(g(x)) end end
local function run(i, n, acc)
  if i == n then return acc end
  return run(i + 1, n, acc + compose(make_adder(i), make_adder(1))(i))
end
print(run(0, 1000000, 0))
