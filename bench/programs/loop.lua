-- A tail-recursive loop of 10,000,000 iterations summing 0..9,999,999.
-- Lua 5.4 guarantees proper tail calls for `return f(...)`.
-- Expected output: 49999995000000
local function loop(i, n, acc)
  if i == n then return acc end
  return loop(i + 1, n, acc + i)
end
print(loop(0, 10000000, 0))
