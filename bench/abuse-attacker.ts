/**
 * One attack of `npm run bench:abuse`, run in a loop in a process of its own for the given
 * seconds, against a server on loopback only; reports what the server answered (by status or
 * error code), then exits. Each attack is one of issue 11's.
 */
import { io as ioClient } from 'socket.io-client';
import WebSocket from 'ws';
import { SEND } from './lib.js';

const [attack, url, token, workspaceId, conversationId, secondsArg] = process.argv.slice(2) as [string, string, string, string, string, string];
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(url)) throw new Error(`refusing to attack ${url}: loopback only`);
const deadline = Date.now() + Number(secondsArg) * 1000;
const outcomes = new Map<string, number>();
const count = (what: string, n = 1) => outcomes.set(what, (outcomes.get(what) ?? 0) + n);
const wsUrl = `${url.replace('http', 'ws')}/graphql`;

async function post(query: string, variables: Record<string, unknown> = {}, auth = true): Promise<void> {
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const json = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    count(`${res.status} ${json.errors?.[0]?.extensions?.code ?? 'ok'}`);
  } catch (err) {
    count(`failed: ${(err as Error).message}`);
  }
}

/** `loops` concurrent loops of `once` until the deadline. */
async function loop(loops: number, once: (i: number) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (Date.now() < deadline) await once(i++);
    }),
  );
}

function nesting(n: number): string {
  let inner = 'id';
  for (let i = 0; i < n; i++) inner = `members { user { id } workspace { ${inner} } }`;
  return `query Nest($id: ID!) { workspace(id: $id) { ${inner} } }`;
}

/** A raw graphql-ws connection (no client library: an attacker does not wait for replies). */
function rawWs(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    });
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; payload?: Array<{ extensions?: { code?: string } }> };
      if (msg.type === 'connection_ack') resolve(socket);
      else if (msg.type === 'error') count(`ws error ${msg.payload?.[0]?.extensions?.code ?? ''}`);
      else if (msg.type === 'next') count('ws next');
    });
    socket.once('close', (code) => {
      count(`ws closed ${code}`);
      // Closed before it was acknowledged (refused at connection_init): the caller reconnects.
      reject(new Error(`closed ${code}`));
    });
    socket.on('error', reject);
    socket.once('unexpected-response', (_req, res) => {
      count(`upgrade ${res.statusCode}`);
      reject(new Error(`upgrade ${res.statusCode}`));
    });
  });
}

let sent = 0;

/**
 * Runs `attack` on a graphql-ws socket, and on a new one each time the server closes it or
 * refuses the upgrade, until the deadline: the attack lasts the whole phase, as a real
 * attacker's would, rather than ending at the first close.
 */
async function reconnecting(attack: (socket: WebSocket) => Promise<void>): Promise<void> {
  while (Date.now() < deadline) {
    let socket: WebSocket;
    try {
      socket = await rawWs();
    } catch (err) {
      // Refused: straight back, as a flooder would; only a refused upgrade (429 with its own
      // Retry-After) waits a moment.
      if (/^upgrade/.test((err as Error).message)) await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    await attack(socket);
    if (socket.readyState === WebSocket.OPEN) socket.close();
  }
  if (sent) count('sent', sent);
}

const attacks: Record<string, () => Promise<void>> = {
  // 15 nested levels of workspace → members → workspace.
  nesting: () => loop(4, () => post(nesting(15), { id: workspaceId })),
  // 2,000 aliases of a page of 100 messages (~280 KB).
  aliases: () => {
    const query = `query A($id: ID!) { ${Array.from({ length: 2000 }, (_, i) => `a${i}: conversation(id: $id) { ... on Room { messages(first: 100) { nodes { id body } } } }`).join(' ')} }`;
    return loop(4, () => post(query, { id: conversationId }));
  },
  // ~0.9 MB of `aN: __typename`, anonymous: under GRAPHQL_MAX_BODY_BYTES, so the token limit refuses it.
  typenameFlood: () => {
    const query = `{ ${Array.from({ length: 50_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    return loop(2, () => post(query, {}, false));
  },
  // 100 aliased __schema walks.
  introspection: () => {
    const query = `{ ${Array.from({ length: 100 }, (_, i) => `s${i}: __schema { types { name fields { name type { name } } } }`).join(' ')} }`;
    return loop(4, () => post(query, {}, false));
  },
  // Password guessing: 200 aliased logIn per request, and single ones.
  bruteForce: () =>
    loop(4, (i) =>
      i % 2
        ? post(`mutation { ${Array.from({ length: 200 }, (_, j) => `l${j}: logIn(input: { email: "victim@example.com", password: "guess-${i}-${j}" }) { __typename }`).join(' ')} }`, {}, false)
        : post(`mutation { logIn(input: { email: "victim@example.com", password: "guess-${i}" }) { __typename } }`, {}, false),
    ),
  // Sign-ups as fast as they are answered.
  signUps: () => loop(4, (i) => post(`mutation { signUp(input: { email: "flood-${process.pid}-${i}@example.com", password: "password-123", displayName: "x" }) { __typename } }`, {}, false)),
  // A graphql-ws socket sending 1,000 sendMessage a second; when the server closes it, the
  // attacker connects again and goes on, for the whole phase (one socket at a time).
  wsSendFlood: () =>
    reconnecting(async (socket) => {
      while (Date.now() < deadline && socket.readyState === WebSocket.OPEN) {
        for (let k = 0; k < 10; k++) {
          socket.send(JSON.stringify({ id: String(++sent), type: 'subscribe', payload: { query: SEND, variables: { input: { conversationId, body: `flood ${sent}` } } } }));
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }),
  // A socket asking for 5,000 subscriptions; again on a new socket whenever closed.
  wsSubscriptions: () =>
    reconnecting(async (socket) => {
      const query = `subscription S($id: ID!) { conversationEvents(conversationId: $id) { type seq } }`;
      for (let id = 1; id <= 5000 && socket.readyState === WebSocket.OPEN; id++) {
        socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query, variables: { id: conversationId } } }));
      }
      while (Date.now() < deadline && socket.readyState === WebSocket.OPEN) await new Promise((r) => setTimeout(r, 100));
    }),
  // 3,000 idle sockets from one address.
  idleSockets: async () => {
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 3000 && Date.now() < deadline; i++) {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      socket.on('error', () => undefined);
      socket.once('open', () => count('opened'));
      socket.once('unexpected-response', (_req, res) => count(`upgrade ${res.statusCode}`));
      sockets.push(socket);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
    }
    while (Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    sockets.forEach((s) => s.terminate());
  },
  // Socket.IO (legacy 002) at 1,000 events a second.
  socketIoFlood: async () => {
    const socket = ioClient(url, { path: '/socket.io', transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    socket.on('my_response', (reply: { data?: unknown }) => count(/throttled/.test(String(reply.data)) ? 'throttled' : 'answered'));
    while (Date.now() < deadline) {
      for (let k = 0; k < 10; k++) socket.emit('get_all_topics', {});
      await new Promise((r) => setTimeout(r, 10));
    }
    socket.close();
  },
  // Malformed legacy paths.
  legacyMalformed: () =>
    loop(4, async () => {
      try {
        const res = await fetch(`${url}/send/%/`);
        await res.arrayBuffer();
        count(String(res.status));
      } catch (err) {
        count(`failed: ${(err as Error).message}`);
      }
    }),
};

const run = attacks[attack];
if (!run) throw new Error(`unknown attack ${attack}`);
await run().catch((err: unknown) => count(`aborted: ${(err as Error).message}`));
process.send!({ type: 'done', outcomes: Object.fromEntries(outcomes) });
setTimeout(() => process.exit(0), 500).unref();
