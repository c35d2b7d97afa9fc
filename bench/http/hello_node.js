// The same hello server in Node.js, for bench/http/run.sh:
//   node bench/http/hello_node.js PORT CERT KEY
// TLS with ALPN h2 (http2.createSecureServer, HTTP/2 only); answers every
// request with 200, content-type text/plain and the 13 bytes "Hello, World!".
'use strict';
const http2 = require('http2');
const fs = require('fs');

const [port, cert, key] = process.argv.slice(2);
const server = http2.createSecureServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
});
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' });
  stream.end('Hello, World!');
});
server.listen(Number(port), '0.0.0.0');
