/**
 * The request (or WebSocket operation) a piece of work belongs to. It is passed explicitly: HTTP
 * requests are named here as they arrive (app.ts) and the GraphQL context carries the id
 * (`Context.requestId`; over graphql-ws `<connection id>/<operation id>`), from which errors
 * get their `extensions.requestId` and the log lines about them their `requestId`.
 *
 * Not AsyncLocalStorage, deliberately: on Node 20, once one is used, V8's promise hooks run for
 * every promise in the process, which cost about a third of the CPU of the live path (a send and
 * its deliveries) in `npm run bench:delivery`.
 */
import { randomUUID } from 'node:crypto';

/**
 * The id for an incoming HTTP request: the client's or load balancer's `X-Request-Id` when it
 * looks like an id (so a trace crosses nginx), else a new one.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}

const named = new WeakMap<object, string>();

/** Names an HTTP request with its id (app.ts, as it arrives), for {@link requestIdOf}. */
export function nameRequest(req: object, requestId: string): void {
  named.set(req, requestId);
}

/** The id an HTTP request was named with, if any. */
export function requestIdOf(req: object | undefined): string | undefined {
  return req ? named.get(req) : undefined;
}
