// A chain of 1,000,000 .then on settled promises: start from
// Promise.resolve(0) and add 1 a million times, then print the end value.
// Expected output: 1000000
let p = Promise.resolve(0);
for (let i = 0; i < 1000000; i++) p = p.then(x => x + 1);
p.then(v => console.log(v));
