// Memory per pending promise, the Node.js reference for aio_mem_then.valk: makes N
// pending base.then(id) promises on one never-settling promise (one shared
// function id, so no closure per promise), and
// keeps every one referenced in an array, then prints N and, on a second
// line, the V8 heap in use (bytes; after a full GC when run with --expose-gc),
// and exits at once.  N is the first argument (default 100000):
// node --expose-gc aio_mem_then.js N
// bench/run.sh reports (maxRSS(2N) - maxRSS(N)) / N bytes per element.
const n = process.argv.length > 2 ? Number(process.argv[2]) : 100000;
const base = new Promise(() => {});
const id = x => x;
const hs = [];
for (let k = n; k > 0; k--) hs.push(base.then(id));
if (global.gc) global.gc();
console.log(hs.length);
console.log(process.memoryUsage().heapUsed);
process.exit(0);
