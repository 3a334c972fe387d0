/**
 * Senders: sends messages over HTTP and records send-to-response time.
 *   rate <n>:        open loop, n messages a second spread evenly (latency phase);
 *   concurrent <n>:  n loops each sending as soon as its last send was answered (throughput).
 * Usage (forked by run.ts): sender.ts <floor|graphql> <httpUrl> <rate|concurrent> <n> <seconds> [token] [conversationId]
 */
import { Histogram, makeBody, now, SEND, sleep, type SenderReport, type Target } from './lib.js';

const [target, url, mode, nArg, secondsArg, token, conversationId] = process.argv.slice(2) as [
  Target,
  string,
  'rate' | 'concurrent',
  string,
  string,
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

async function sendOne(sender: number): Promise<void> {
  const sentAt = now();
  const body = makeBody(sentAt, sender, counter++);
  try {
    let res: Response;
    if (target === 'floor') {
      res = await fetch(`${url}/send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ body }) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } else {
      res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: SEND, variables: { input: { conversationId, body } } }),
      });
      const json = (await res.json()) as { data?: { sendMessage?: { __typename: string } }; errors?: unknown };
      if (json.data?.sendMessage?.__typename !== 'Message') throw new Error(JSON.stringify(json));
    }
    ok++;
    histogram.add(now() - sentAt);
  } catch (err) {
    failed++;
    firstError ??= (err as Error).message;
  }
}

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
    const p = sendOne(0).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
} else {
  await Promise.all(
    Array.from({ length: n }, async (_, sender) => {
      while (now() < deadline) await sendOne(sender);
    }),
  );
}
const report: SenderReport = { type: 'done', ok, failed, firstError, startedAt, endedAt: now(), histogram: histogram.toJSON(), max: histogram.max };
process.send!(report, () => process.exit(0));
