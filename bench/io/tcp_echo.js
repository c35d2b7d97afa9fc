// Workload 2: TCP echo over loopback, one connection, server and client in
// this process. The server echoes with sock.pipe(sock); the client writes
// BYTES in 64 KiB chunks (waiting for 'drain' when write() returns false)
// and counts what comes back; when all BYTES are back it calls end() (as
// tcp_echo.valk does: no half-close before that).
// Usage: node tcp_echo.js BYTES  -- prints the byte count echoed back.
const net = require('net');
const totalBytes = Number(process.argv[2]);
const chunkSize = 65536;
const chunk = Buffer.alloc(chunkSize, 'x');
const srv = net.createServer((conn) => conn.pipe(conn));
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1');
  let total = 0;
  c.on('data', (d) => { total += d.length; if (total >= totalBytes) c.end(); });
  c.on('end', () => { console.log(total); srv.close(); });
  let n = totalBytes / chunkSize;
  const produce = () => {
    while (n > 0) {
      n--;
      if (!c.write(chunk)) { c.once('drain', produce); return; }
    }
  };
  c.on('connect', produce);
});
