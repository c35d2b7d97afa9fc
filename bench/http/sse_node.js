// The Node.js peer of bench/http/sse_server.valk, for bench/http/streaming.sh:
//   node bench/http/sse_node.js PORT CLIENTS EVENTS
// h2c (http2.createServer). The same routes and broadcast: GET /sse opens
// an event stream (text/event-stream, no-cache) and keeps it; when CLIENTS
// are open, EVENTS ticks of one 24-byte event ("data: 0123456789abcdef\n\n")
// to every stream, waiting for 'drain' when write() returns false, with a
// setImmediate between two ticks; then every stream is ended. GET /result
// answers "CLIENTS EVENTS SENT REFUSED MICROSECONDS EVENTS_PER_SECOND" once
// every stream has closed, "pending" before.
'use strict';
const http2 = require('http2');
const { once } = require('events');

const port = Number(process.argv[2]);
const clients = Number(process.argv[3]);
const events = Number(process.argv[4]);
const payload = '0123456789abcdef';

const subs = [];
let nclosed = 0, sent = 0, refused = 0, t0 = 0n;
let result = 'pending\n';

function sseData(text) {
  return 'data: ' + String(text).replace(/\r\n?/g, '\n').replace(/\n/g, '\ndata: ') + '\n\n';
}

async function broadcast() {
  t0 = process.hrtime.bigint();
  for (let k = 1; k <= events; k++) {
    await new Promise((r) => setImmediate(r));
    for (const s of subs) {
      if (s.destroyed || s.closed) continue;
      if (s.write(sseData(payload))) {
        sent++;
      } else {
        sent++;  // queued all the same; wait until it is taken
        refused++;
        await once(s, 'drain');
      }
    }
  }
  for (const s of subs) s.end();
}

function finish() {
  const us = Number((process.hrtime.bigint() - t0) / 1000n);
  result = `${clients} ${events} ${sent} ${refused} ${us} ${Math.floor(sent * 1e6 / Math.max(us, 1))}\n`;
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
server.on('stream', (stream, headers) => {
  const p = headers[':path'];
  if (p === '/sse') {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream',
                     'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    subs.push(stream);
    stream.on('close', () => {
      nclosed++;
      if (clients > 0 && nclosed === clients) finish();
    });
    stream.on('error', () => {});
    if (clients > 0 && subs.length === clients) setTimeout(broadcast, 100);
  } else {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(p === '/result' ? result : 'ok');
  }
});
server.listen(port, '0.0.0.0');
