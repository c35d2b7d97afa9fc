// Workload 3: N concurrent echo connections to this process's own echo
// server, conn.pipe(conn). All N are started at once (Promise.all); each
// connects, sends a 32-byte message, reads it back, ends its side and waits
// until the socket is closed (the server has ended too).
// Usage: node tcp_conns.js N  -- prints N times 32, the bytes echoed back.
const net = require('net');
const n = Number(process.argv[2]);
const msg = '0123456789abcdef0123456789abcdef';
const srv = net.createServer((conn) => conn.pipe(conn));

function one(port) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = 0;
    c.on('connect', () => c.write(msg));
    c.on('data', (d) => { got += d.length; if (got >= msg.length) c.end(); });
    c.on('error', reject);
    c.on('close', () => resolve(got));
  });
}

srv.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, async () => {
  const port = srv.address().port;
  const all = [];
  for (let i = 0; i < n; i++) all.push(one(port));
  const got = await Promise.all(all);
  console.log(got.reduce((a, b) => a + b, 0));
  srv.close();
});
