-- String building: make 200,000 pieces "k<i>=<i*i>", join them with ";"
-- (table.concat) and print the piece count and the length of the result.
-- Expected output: 200000 3742640
local pieces = {}
for i = 0, 199999 do
  pieces[#pieces + 1] = "k" .. i .. "=" .. (i * i)
end
local s = table.concat(pieces, ";")
print(#pieces .. " " .. #s)
