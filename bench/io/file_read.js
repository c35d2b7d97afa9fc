// Workload 1: read a file in chunks with fs.createReadStream (64 KiB
// highWaterMark, as valk's stream/read default), counting bytes.
// Usage: node file_read.js PATH  -- prints the byte count.
const fs = require('fs');
let total = 0;
fs.createReadStream(process.argv[2], { highWaterMark: 65536 })
  .on('data', (c) => { total += c.length; })
  .on('end', () => console.log(total));
