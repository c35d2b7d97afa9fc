// Memory per pending promise, the Node.js reference for aio_mem_never.valk: makes N
// pending promises that never settle, new Promise(() => {}), and
// keeps every one referenced in an array, then prints N and, on a second
// line, the V8 heap in use (bytes; after a full GC when run with --expose-gc),
// and exits at once.  N is the first argument (default 100000):
// node --expose-gc aio_mem_never.js N
// bench/run.sh reports (maxRSS(2N) - maxRSS(N)) / N bytes per element.
const n = process.argv.length > 2 ? Number(process.argv[2]) : 100000;
const hs = [];
for (let k = n; k > 0; k--) hs.push(new Promise(() => {}));
if (global.gc) global.gc();
console.log(hs.length);
console.log(process.memoryUsage().heapUsed);
process.exit(0);
