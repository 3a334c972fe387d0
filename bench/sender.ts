/**
 * Senders: send messages and record send-to-response (persisted) time.
 *   rate <n>:        open loop, n messages a second spread evenly (latency phase);
 *   concurrent <n>:  n loops each sending as soon as its last send was answered (throughput).
 * Transports: `http` (a POST per message), `ws` (each sender loop keeps one socket and sends over
 * it, as an Apollo or urql client with a graphql-ws link does; on the floor a plain socket), `sio`
 * (the peer: socket.io-client, `emitWithAck`).
 * Usage (forked by run.ts): sender.ts <floor|graphql|peer> <url> <rate|concurrent> <n> <seconds> <http|ws|sio> [token] [conversationId]
 */
import { createClient, type Client } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { Histogram, makeBody, now, SEND, sleep, type SenderReport, type Target } from './lib.js';

type Transport = 'http' | 'ws' | 'sio';
const [target, url, mode, nArg, secondsArg, transport, token, conversationId] = process.argv.slice(2) as [
  Target,
  string,
  'rate' | 'concurrent',
  string,
  string,
  Transport,
  string?,
  string?,
];
const n = Number(nArg);
const durationMs = Number(secondsArg) * 1000;
const histogram = new Histogram();
let ok = 0;
let failed = 0;
let firstError: string | undefined;
let counter = 0;

type Send = (body: string) => Promise<void>;

/** One connection's way of sending, opened before the clock starts. */
async function openChannel(): Promise<{ send: Send; close: () => void }> {
  if (transport === 'http') {
    const send: Send =
      target === 'floor'
        ? async (body) => {
            const res = await fetch(`${url}/send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ body }) });
            await res.arrayBuffer();
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
          }
        : async (body) => {
            const res = await fetch(`${url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ query: SEND, variables: { input: { conversationId, body } } }),
            });
            const json = (await res.json()) as { data?: { sendMessage?: { __typename: string } }; errors?: unknown };
            if (json.data?.sendMessage?.__typename !== 'Message') throw new Error(JSON.stringify(json));
          };
    return { send, close: () => undefined };
  }
  if (transport === 'sio') {
    const socket: Socket = io(url, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    return {
      send: async (body) => {
        const reply = (await socket.timeout(30_000).emitWithAck('send', { room: conversationId, body })) as { seq?: number; error?: string };
        if (reply.seq === undefined) throw new Error(reply.error ?? 'no seq');
      },
      close: () => socket.disconnect(),
    };
  }
  if (target === 'floor') {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/?send`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    // The floor answers each socket's sends in order.
    const waiting: Array<() => void> = [];
    socket.on('message', () => waiting.shift()?.());
    return {
      send: (body) =>
        new Promise<void>((resolve) => {
          waiting.push(resolve);
          socket.send(JSON.stringify({ body }));
        }),
      close: () => socket.terminate(),
    };
  }
  const client: Client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    // One socket for the sender's life, as a chat client's: graphql-ws' client is lazy by
    // default and closes its socket as soon as no operation is running, which for a sender
    // whose sends never overlap (and which holds no subscription) meant a new connection,
    // connection_init and authentication for nearly every send.
    lazy: false,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => resolve());
    client.on('closed', (event) => reject(new Error(`closed: ${JSON.stringify(event)}`)));
    client.on('error', (err) => reject(err as Error));
  });
  return {
    send: (body) =>
      new Promise<void>((resolve, reject) => {
        let typename: string | undefined;
        client.subscribe<{ sendMessage: { __typename: string } }>(
          { query: SEND, variables: { input: { conversationId, body } } },
          {
            next: (result) => {
              typename = result.data?.sendMessage?.__typename;
              if (typename !== 'Message') reject(new Error(JSON.stringify(result)));
            },
            error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
            complete: () => (typename === 'Message' ? resolve() : reject(new Error('completed without a message'))),
          },
        );
      }),
    close: () => void client.dispose(),
  };
}

async function sendOne(channel: { send: Send }, sender: number): Promise<void> {
  const sentAt = now();
  try {
    await channel.send(makeBody(sentAt, sender, counter++));
    ok++;
    histogram.add(now() - sentAt);
  } catch (err) {
    failed++;
    firstError ??= (err as Error).message;
  }
}

const channels = await Promise.all(Array.from({ length: mode === 'rate' ? 1 : n }, () => openChannel()));
const startedAt = now();
const deadline = startedAt + durationMs;
if (mode === 'rate') {
  const interval = 1000 / n;
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; ; i++) {
    const due = startedAt + i * interval;
    if (due >= deadline) break;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const p = sendOne(channels[0]!, 0).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
} else {
  await Promise.all(
    channels.map(async (channel, sender) => {
      while (now() < deadline) await sendOne(channel, sender);
    }),
  );
}
const endedAt = now();
for (const c of channels) c.close();
const report: SenderReport = { type: 'done', ok, failed, firstError, startedAt, endedAt, histogram: histogram.toJSON(), max: histogram.max };
process.send!(report, () => process.exit(0));
