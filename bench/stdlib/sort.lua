-- table.sort of N pseudo-random integers (bench/stdlib/run.sh); the same
-- numbers as sort.valk. Prints the time of the sort alone (µs, os.clock) and
-- the checksum.
local n = tonumber(arg[1] or "1000000")
local xs, seed = {}, 1
for i = n, 1, -1 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  xs[i] = seed % 1000000000
end
local t0 = os.clock()
table.sort(xs)
local t1 = os.clock()
print(string.format("op_us=%d", math.floor((t1 - t0) * 1e6)))
print(string.format("check=%d %d %d", #xs, xs[1], xs[#xs]))
