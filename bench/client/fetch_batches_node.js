// The client benchmark's Node.js side (bench/client/run.sh): TOTAL GETs of URL
// with the built-in http2 client, one session (one connection, multiplexed),
// in batches of BATCH (default 100) with Promise.all, each batch awaited
// before the next starts. Prints the same line as fetch_batches.valk:
//   requests=N ok=N bytes=B seconds=S rps=R
// timed from before the connection is opened to the last response.
//   node fetch_batches_node.js URL TOTAL [BATCH]   (CA_FILE names the CA)
// (Node's global fetch speaks HTTP/1.1 only, and nghttpd HTTP/2 only, so the
// http2 module is the client to compare with.)
'use strict';
const http2 = require('http2');
const fs = require('fs');

const [url, totalArg, batchArg] = process.argv.slice(2);
const total = Number(totalArg);
const batch = Number(batchArg || 100);
const u = new URL(url);
const path = u.pathname + u.search;

function get(session) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let status = 0;
    const chunks = [];
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const t0 = process.hrtime.bigint();
  const session = http2.connect(u.origin, {
    ca: process.env.CA_FILE ? fs.readFileSync(process.env.CA_FILE) : undefined,
  });
  session.on('error', (e) => { console.error(e); process.exit(1); });
  let ok = 0;
  let bytes = 0;
  for (let done = 0; done < total; done += batch) {
    const rs = await Promise.all(Array.from({ length: batch }, () => get(session)));
    for (const r of rs) {
      if (r.status === 200) ok++;
      bytes += r.body.length;
    }
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  session.close();
  console.log(`requests=${total} ok=${ok} bytes=${bytes} seconds=${s} rps=${Math.round(total / s)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
