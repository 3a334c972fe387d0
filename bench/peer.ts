/**
 * The peer: what a team would write instead of adopting this product, a hand-written Socket.IO
 * server that stores each message in PostgreSQL. A client joins a room (`join`), sends with
 * `emitWithAck('send', { body })`; the server runs one `INSERT … RETURNING` and then emits the
 * stored message to the room, shaped like the product's conversationEvents payload, and
 * acknowledges with its seq. Nothing else: no authentication, no resume, no idempotency, no
 * per-subscriber authorization. That is the point of comparison the product must match.
 *
 * The message's seq is the row's identity: concurrent senders may commit out of order, so this
 * peer can deliver seqs out of order under load, a property of the naive design that the
 * benchmark reports (Out of order column) rather than hides.
 *
 * Forked by run.ts with the database URL in PEER_DATABASE_URL and the pool in PEER_POOL_SIZE.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Server } from 'socket.io';
import { usage } from './lib.js';

const pool = new pg.Pool({ connectionString: process.env.PEER_DATABASE_URL, max: Number(process.env.PEER_POOL_SIZE ?? 20) });
pool.on('error', () => undefined);
await pool.query(`CREATE TABLE IF NOT EXISTS peer_messages (
  seq bigserial PRIMARY KEY,
  room text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)`);

const server = createServer();
const io = new Server(server, { transports: ['websocket'], serveClient: false });

io.on('connection', (socket) => {
  socket.on('join', (room: string, ack?: () => void) => {
    void socket.join(room);
    ack?.();
  });
  socket.on('send', async (msg: { room: string; body: string }, ack?: (reply: { seq?: number; error?: string }) => void) => {
    try {
      const { rows } = await pool.query<{ seq: string; created_at: Date }>(
        'INSERT INTO peer_messages (room, body) VALUES ($1, $2) RETURNING seq, created_at',
        [msg.room, msg.body],
      );
      const seq = Number(rows[0]!.seq);
      io.to(msg.room).emit('event', {
        type: 'MESSAGE_ADDED',
        seq,
        message: { seq, body: msg.body, createdAt: rows[0]!.created_at.toISOString() },
      });
      ack?.({ seq });
    } catch (err) {
      ack?.({ error: (err as Error).message });
    }
  });
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
  void io.close();
  void pool.end().finally(() => process.exit(0));
});
