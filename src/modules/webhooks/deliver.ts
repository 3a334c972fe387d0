/**
 * One HTTP attempt: resolve and check the host (address.ts), connect to the checked address
 * (never to the name again, so DNS rebinding cannot swap it), send, read at most a little of
 * the answer, and give up at the deadline. No keep-alive agent: each attempt's socket is closed
 * when it ends, so stopping the worker leaves nothing open. Redirects are not followed (a 3xx
 * is a failure): following one would leave the checked address.
 */
import http from 'node:http';
import https from 'node:https';
import { checkHost, type AddressPolicy } from './address.js';

/** Bytes of the answer kept in the delivery log. */
const RESPONSE_EXCERPT_BYTES = 1024;

export interface AttemptResult {
  statusCode: number | null;
  /** Why it failed; null on a 2xx. */
  error: string | null;
  responseBody: string | null;
  durationMs: number;
}

export interface SendOptions {
  timeoutMs: number;
  policy: AddressPolicy;
  /** Aborts the attempt (the worker stopping). */
  signal: AbortSignal;
}

export async function sendAttempt(target: string, headers: Record<string, string>, body: string, options: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  const finish = (partial: Omit<AttemptResult, 'durationMs'>): AttemptResult => ({ ...partial, durationMs: Math.round(performance.now() - started) });
  const url = new URL(target);
  // Our own timer rather than AbortSignal.timeout, so that it is cleared when the attempt ends.
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(Object.assign(new Error(`timed out after ${options.timeoutMs} ms`), { name: 'TimeoutError' })),
    options.timeoutMs,
  );
  const deadline = AbortSignal.any([options.signal, timeout.signal]);
  try {
    return await attempt(url, headers, body, options, deadline, finish);
  } finally {
    clearTimeout(timer);
  }
}

async function attempt(
  url: URL,
  headers: Record<string, string>,
  body: string,
  options: SendOptions,
  deadline: AbortSignal,
  finish: (partial: Omit<AttemptResult, 'durationMs'>) => AttemptResult,
): Promise<AttemptResult> {
  let address: string;
  try {
    // Resolution counts against the deadline too: a name server that never answers is a slow endpoint.
    const answers = await Promise.race([
      checkHost(url.hostname, options.policy),
      new Promise<never>((_, reject) => {
        if (deadline.aborted) reject(deadline.reason);
        deadline.addEventListener('abort', () => reject(deadline.reason), { once: true });
      }),
    ]);
    address = answers[0]!.address;
  } catch (err) {
    return finish({ statusCode: null, error: describe(err, options), responseBody: null });
  }
  const client = url.protocol === 'https:' ? https : http;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (partial: Omit<AttemptResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      deadline.removeEventListener('abort', onAbort);
      resolve(finish(partial));
    };
    const req = client.request({
      host: address,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: false,
      // The certificate is checked against the name the workspace registered, while the socket
      // goes to the address we checked.
      servername: url.protocol === 'https:' && !/^[\d.]+$|:/.test(hostname) ? hostname : undefined,
      headers: { ...headers, host: url.host, 'content-length': Buffer.byteLength(body).toString() },
    });
    const onAbort = () => req.destroy(deadline.reason instanceof Error ? deadline.reason : new Error(String(deadline.reason)));
    deadline.addEventListener('abort', onAbort, { once: true });
    if (deadline.aborted) onAbort();
    req.on('error', (err) => done({ statusCode: null, error: describe(err, options), responseBody: null }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      const statusCode = res.statusCode ?? 0;
      const result = (): Omit<AttemptResult, 'durationMs'> => {
        const excerpt = chunks.length ? Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8') : null;
        const ok = statusCode >= 200 && statusCode < 300;
        return { statusCode, error: ok ? null : `HTTP ${statusCode}`, responseBody: excerpt };
      };
      res.on('data', (chunk: Buffer) => {
        if (kept < RESPONSE_EXCERPT_BYTES) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      res.on('end', () => {
        done(result());
        req.destroy();
      });
      // The status is what counts: a body cut short by the deadline still leaves its status.
      res.on('error', () => done(result()));
      res.on('aborted', () => done(result()));
      res.on('close', () => done(result()));
    });
    req.end(body);
  });
}

function describe(err: unknown, options: SendOptions): string {
  if (options.signal.aborted) return 'interrupted: the delivering instance stopped';
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'TimeoutError') return `timed out after ${options.timeoutMs} ms`;
  if (e?.name === 'AddressRefusedError') return `address refused: ${e.message}`;
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}
