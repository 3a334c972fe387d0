/**
 * Who a request comes from, for per-address limits: the socket's address, or, behind a reverse
 * proxy (TRUST_PROXY), the last X-Forwarded-For entry, the one our own proxy appended (entries
 * before it are whatever the client claimed).
 *
 * The legacy shim runs its operations through its executor, with no request at hand: it binds the
 * executor to its client's address (src/compat/executor.ts), which gives it to the context.
 */
import type { IncomingMessage } from 'node:http';

export function clientAddress(req: IncomingMessage | undefined, trustProxy: boolean): string | undefined {
  if (!req) return undefined;
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header.join(',') : header;
    const last = value
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .pop();
    if (last) return normalise(last);
  }
  const remote = req.socket?.remoteAddress;
  return remote ? normalise(remote) : undefined;
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; one client, one key. */
function normalise(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address.toLowerCase();
}
