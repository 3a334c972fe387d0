/**
 * The well-behaved client of `npm run bench:abuse`, in a process of its own: `{ __typename }`
 * over HTTP every 20 ms and a sendMessage every 300 ms (under the per-user send limit), each
 * timed. On { type: 'report' } it sends both latency summaries for the phase since the last
 * report, and starts a new phase.
 */
import { Histogram, SEND, now } from './lib.js';

const [url, token, conversationId] = process.argv.slice(2) as [string, string, string];
let typename = new Histogram();
let send = new Histogram();
let failed = 0;
let stopping = false;

async function timed(body: string, auth: boolean): Promise<number | null> {
  const started = now();
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    const json = (await res.json()) as { errors?: unknown[] };
    if (!res.ok || json.errors) failed++;
  } catch {
    failed++;
    return null;
  }
  return now() - started;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function typenameLoop(): Promise<void> {
  const body = JSON.stringify({ query: '{ __typename }' });
  while (!stopping) {
    const ms = await timed(body, false);
    if (ms !== null) typename.add(ms);
    await pause(20);
  }
}

async function sendLoop(): Promise<void> {
  let n = 0;
  while (!stopping) {
    const body = JSON.stringify({ query: SEND, variables: { input: { conversationId, body: `probe ${n++}` } } });
    const ms = await timed(body, true);
    if (ms !== null) send.add(ms);
    await pause(300);
  }
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'report') {
    process.send!({ type: 'report', typename: typename.summary(), send: send.summary(), failed });
    typename = new Histogram();
    send = new Histogram();
    failed = 0;
  } else if (msg.type === 'stop') {
    stopping = true;
    setTimeout(() => process.exit(0), 1000).unref();
  }
});

process.send!({ type: 'ready' });
void typenameLoop();
void sendLoop();
