/**
 * The floor: a plain `ws` broadcast server with nothing of ours in the way. POST /send with
 * {"body": "..."} numbers the message and writes it to every connected socket, shaped like a
 * graphql-ws `next` message of conversationEvents, then answers with its seq. What the chat
 * server adds to these figures is the cost of persistence, GraphQL and pub/sub.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const sockets = new Set<WebSocket>();
let seq = 0;

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/send') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const { body } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { body: string };
    seq++;
    const frame = JSON.stringify({
      id: '1',
      type: 'next',
      payload: { data: { conversationEvents: { type: 'MESSAGE_ADDED', seq, message: { seq, body } } } },
    });
    for (const socket of sockets) socket.send(frame);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seq }));
  });
});

const wss = new WebSocketServer({ server });
wss.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send!({ type: 'ready', url: `http://127.0.0.1:${port}` });
});
process.on('SIGTERM', () => {
  for (const s of sockets) s.terminate();
  server.close(() => process.exit(0));
});
