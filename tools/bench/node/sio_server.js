// Socket.IO 4 peer for tools/bench/run.sh: a subscriber joins the room named by its
// ?room= query (e.g. "all", or "u42" for one user); POST /publish/<room> with a JSON
// body emits it to that room as event "n". WebSocket transport only, as the load client
// speaks it (SIO_TRANSPORTS widens that). Prints "sio: listening on http://127.0.0.1:<port>" once bound.
//
//   node sio_server.js PORT

'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 0);

const httpServer = http.createServer((req, res) => {
  const m = req.method === 'POST' && /^\/publish\/([^/?]+)/.exec(req.url);
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let data;
    try {
      data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
      return;
    }
    io.to(decodeURIComponent(m[1])).emit('n', data);
    res.writeHead(202, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
  });
});
httpServer.keepAliveTimeout = 120000;

const io = new Server(httpServer, {
  // SIO_TRANSPORTS=polling,websocket for the polling figures of tools/bench/sio_bench.mjs.
  transports: (process.env.SIO_TRANSPORTS || 'websocket').split(','),
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 1e5,
});

io.on('connection', (socket) => {
  const room = socket.handshake.query.room;
  if (typeof room === 'string' && room) socket.join(room);
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`sio: listening on http://127.0.0.1:${httpServer.address().port}`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
