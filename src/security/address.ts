/**
 * Who a request comes from, for per-address limits: the socket's address, or, behind a reverse
 * proxy (TRUST_PROXY), the last X-Forwarded-For entry, the one our own proxy appended (entries
 * before it are whatever the client claimed).
 *
 * The legacy shim runs its operations through the executor, with no request at hand; it names
 * its caller with {@link asLegacyCaller}, and the GraphQL context reads it from there.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
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

const legacyCaller = new AsyncLocalStorage<{ address: string | undefined }>();

/** Runs `fn` (a legacy call and the operations it runs) on behalf of a client at `address`. */
export function asLegacyCaller<T>(address: string | undefined, fn: () => T): T {
  return legacyCaller.run({ address }, fn);
}

/** The address of the legacy client whose call is running, if any. */
export function legacyCallerAddress(): string | undefined {
  return legacyCaller.getStore()?.address;
}
