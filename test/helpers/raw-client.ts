/**
 * Plain clients for servers the test did not build in-process (child processes behind nginx):
 * GraphQL over fetch with the retry policy a production client should have, graphql-ws clients,
 * and a Prometheus text parser.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Answer {
  status: number;
  body: { data?: Record<string, any>; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
  ms: number;
}

/** One POST /graphql; throws on a network error (refused, reset). */
export async function gql(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: Answer['body'];
  try {
    body = JSON.parse(text) as Answer['body'];
  } catch {
    body = { errors: [{ message: text.slice(0, 200) }] };
  }
  return { status: res.status, body, ms: performance.now() - started };
}

export interface RetryLog {
  /** Every attempt that was retried: why, and how long it took to be told. */
  retried: Array<{ why: string; ms: number; code?: string; retryable?: boolean; status?: number }>;
  /** Attempts that failed in a way the policy does not retry. */
  failed: Array<{ why: string }>;
}

/**
 * The retry policy of a well-behaved client: retry a 503 (SERVICE_UNAVAILABLE, retryable) and a
 * connection refused or closed, after a short pause, until `deadlineMs`.
 */
export async function gqlRetrying(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token: string | undefined,
  log: RetryLog,
  deadlineMs = 60_000,
): Promise<Answer> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const started = performance.now();
    try {
      const answer = await gql(url, query, variables, token);
      const error = answer.body.errors?.[0];
      if (answer.status === 503 || error?.extensions?.retryable === true) {
        log.retried.push({ why: `status ${answer.status}`, ms: answer.ms, code: error?.extensions?.code, retryable: error?.extensions?.retryable, status: answer.status });
      } else {
        return answer;
      }
    } catch (err) {
      log.retried.push({ why: `network: ${(err as Error).cause ?? (err as Error).message}`, ms: performance.now() - started });
    }
    if (Date.now() > deadline) {
      log.failed.push({ why: 'gave up' });
      throw new Error('gave up retrying');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function wsClient(wsUrl: string, token: string, options: { retryAttempts?: number } = {}): Client & { connects: number } {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: options.retryAttempts ?? 0,
    retryWait: async () => new Promise((r) => setTimeout(r, 200)),
    shouldRetry: () => true,
    // A connection closed for good (an instance stopped under it) reaches the subscriptions'
    // error sinks, where the tests look; graphql-ws's default would also print the whole
    // CloseEvent to stderr.
    onNonLazyError: () => undefined,
    connectionParams: { authorization: `Bearer ${token}` },
  }) as Client & { connects: number };
  client.connects = 0;
  client.on('connected', () => client.connects++);
  return client;
}

/** Prometheus text format → samples by name (with their label strings). */
export function parseMetrics(text: string): Map<string, Array<{ labels: string; value: number }>> {
  const out = new Map<string, Array<{ labels: string; value: number }>>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const list = out.get(m[1]!) ?? [];
    list.push({ labels: m[2] ?? '', value: Number(m[3]) });
    out.set(m[1]!, list);
  }
  return out;
}

/** The sum of a metric's samples (whose labels contain `match`, if given). */
export function metricSum(metrics: Map<string, Array<{ labels: string; value: number }>>, name: string, match = ''): number {
  return (metrics.get(name) ?? []).filter((s) => s.labels.includes(match)).reduce((a, s) => a + s.value, 0);
}
