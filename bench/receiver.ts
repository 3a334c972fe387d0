/**
 * Receivers: opens N WebSockets, one subscriber each, and measures every delivery's
 * send-to-receive latency from the send time the message body carries.
 *   graphql: graphql-ws clients subscribed to conversationEvents(after: 0); ready once each has
 *            replayed the conversation's first message (so each is live).
 *   floor:   plain `ws` sockets on the broadcast server; ready once all are open.
 *   peer:    socket.io-client sockets that have joined the room (the conversationId argument).
 * Usage (forked by run.ts): receiver.ts <floor|graphql|peer> <wsUrl> <count> [token] [conversationId]
 */
import { createClient, type Client } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { EVENTS, Histogram, now, readBody, type ReceiverCommand, type ReceiverReport, type Target } from './lib.js';

const [target, wsUrl, countArg, token, conversationId] = process.argv.slice(2) as [Target, string, string, string?, string?];
const count = Number(countArg);
const send = (msg: ReceiverReport) => process.send!(msg);

let histogram = new Histogram();
let delivered = 0;
let disorder = 0;
let firstAt = 0;
let lastAt = 0;
const lastSeq = new Int32Array(count).fill(-1);
const clients: Client[] = [];
const sockets: WebSocket[] = [];
const ioSockets: Socket[] = [];

function onEvent(index: number, seq: number, body: string | undefined): void {
  const at = now();
  const previous = lastSeq[index]!;
  if (previous >= 0 && seq !== previous + 1) disorder++;
  lastSeq[index] = seq;
  const sent = body ? readBody(body) : null;
  if (!sent) return;
  delivered++;
  if (firstAt === 0) firstAt = at;
  lastAt = at;
  histogram.add(at - sent.t);
}

async function openGraphql(index: number): Promise<void> {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    let live = false;
    client.subscribe<{ conversationEvents: { seq: number; message: { body: string } | null } }>(
      { query: EVENTS, variables: { id: conversationId, after: 0 } },
      {
        next: (result) => {
          const event = result.data?.conversationEvents;
          if (!event) return send({ type: 'error', message: `subscription error: ${JSON.stringify(result.errors)}` });
          onEvent(index, event.seq, event.message?.body);
          if (!live) {
            live = true;
            resolve();
          }
        },
        error: (err) => {
          const message = err instanceof Error ? err.message : JSON.stringify(err);
          if (!live) reject(new Error(message));
          else send({ type: 'error', message: `subscriber ${index} failed: ${message}` });
        },
        complete: () => undefined,
      },
    );
  });
}

async function openFloor(index: number): Promise<void> {
  const socket = new WebSocket(wsUrl);
  sockets.push(socket);
  socket.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { payload: { data: { conversationEvents: { seq: number; message: { body: string } } } } };
    const event = msg.payload.data.conversationEvents;
    onEvent(index, event.seq, event.message.body);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
}

async function openPeer(index: number): Promise<void> {
  const socket = io(wsUrl.replace(/^ws/, 'http'), { transports: ['websocket'], reconnection: false });
  ioSockets.push(socket);
  socket.on('event', (event: { seq: number; message: { body: string } }) => onEvent(index, event.seq, event.message.body));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
  await socket.timeout(30_000).emitWithAck('join', conversationId);
}

process.on('message', (cmd: ReceiverCommand) => {
  if (cmd.type === 'reset') {
    histogram = new Histogram();
    delivered = disorder = firstAt = lastAt = 0;
  } else if (cmd.type === 'report') {
    send({ type: 'report', delivered, disorder, firstAt, lastAt, histogram: histogram.toJSON(), max: histogram.max });
  } else if (cmd.type === 'stop') {
    for (const s of sockets) s.terminate();
    for (const s of ioSockets) s.disconnect();
    void Promise.all(clients.map((c) => c.dispose())).finally(() => process.exit(0));
  }
});

try {
  const open = target === 'graphql' ? openGraphql : target === 'peer' ? openPeer : openFloor;
  // Connect in waves: a thousand handshakes at once is a test of the accept queue, not of delivery.
  const wave = 50;
  for (let i = 0; i < count; i += wave) {
    await Promise.all(Array.from({ length: Math.min(wave, count - i) }, (_, k) => open(i + k)));
    send({ type: 'progress', connected: Math.min(count, i + wave) });
  }
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'error', message: `receiver could not connect: ${(err as Error).message}` });
  process.exit(1);
}
