/**
 * The request (or WebSocket operation) a piece of work belongs to, carried by AsyncLocalStorage
 * so that every log line written while serving it names it (the logger's mixin reads it) and
 * every error answered carries it in `extensions.requestId`, without passing it by hand.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` as part of the request `requestId`. */
export function runInRequest<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** The current request's id, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

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

/** pino mixin: adds `requestId` to every line written inside a request. */
export function requestLogMixin(): Record<string, unknown> {
  const id = storage.getStore()?.requestId;
  return id ? { requestId: id } : {};
}
