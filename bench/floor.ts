/**
 * The floor: a plain `ws` broadcast server with nothing of ours in the way. POST /send with
 * {"body": "..."} (or the same JSON sent on a socket) numbers the message and writes it to every
 * connected socket, shaped like a graphql-ws `next` message of conversationEvents, then answers
 * with its seq (on a socket: {"ack": seq}). What the chat server adds to these figures is the cost
 * of persistence, GraphQL and pub/sub.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { usage } from './lib.js';

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
    const seq = broadcast(body);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seq }));
  });
});

function broadcast(body: string): number {
  seq++;
  const frame = JSON.stringify({
    id: '1',
    type: 'next',
    payload: { data: { conversationEvents: { type: 'MESSAGE_ADDED', seq, message: { seq, body } } } },
  });
  for (const socket of sockets) socket.send(frame);
  return seq;
}

const wss = new WebSocketServer({ server });
wss.on('connection', (socket, req) => {
  // Senders connect with ?send: they send, and are not subscribers.
  if (!req.url?.includes('send')) sockets.add(socket);
  socket.on('message', (data) => {
    const { body } = JSON.parse(String(data)) as { body: string };
    socket.send(JSON.stringify({ ack: broadcast(body) }));
  });
  socket.on('close', () => sockets.delete(socket));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send!({ type: 'ready', url: `http://127.0.0.1:${port}` });
});
// The orchestrator reads this process's CPU time and write calls around each phase (per delivery).
process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'stats') process.send!({ type: 'stats', ...usage() });
});
process.on('SIGTERM', () => {
  for (const s of sockets) s.terminate();
  server.close(() => process.exit(0));
});
