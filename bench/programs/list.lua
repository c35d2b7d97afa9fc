-- Build a list of 1,000,000 integers (0 .. 999,999) and fold it with a
-- function that sums it. Lua has no cons lists; the idiomatic sequence is
-- an array table, and foldl is written here (Lua has no builtin fold).
-- Prints the length and the sum. Expected output: 1000000 499999500000
local function range(a, b)
  local t = {}
  for i = a, b - 1 do t[#t + 1] = i end
  return t
end
local function foldl(f, acc, t)
  for i = 1, #t do acc = f(acc, t[i]) end
  return acc
end
local xs = range(0, 1000000)
print(#xs .. " " .. foldl(function(acc, x) return acc + x end, 0, xs))
