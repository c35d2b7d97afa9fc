// 100,000 concurrent 1 ms timers, each wrapped in a promise, awaited together
// with Promise.all; prints the number of results.
// Expected output: 100000
const hs = [];
for (let i = 0; i < 100000; i++) hs.push(new Promise(r => setTimeout(r, 1)));
Promise.all(hs).then(rs => console.log(rs.length));
