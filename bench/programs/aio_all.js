// Promise.all over 100,000 settled promises (Promise.resolve(0 .. 99,999));
// prints the number of results and their sum.
// Expected output: 100000 4999950000
const hs = [];
for (let i = 0; i < 100000; i++) hs.push(Promise.resolve(i));
Promise.all(hs).then(rs => console.log(rs.length, rs.reduce((a, b) => a + b, 0)));
