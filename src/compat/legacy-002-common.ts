/**
 * What the parts of the legacy 002 shim share: the reply envelope, payload reading, the identity
 * a legacy name stands for, and a bounded map for the small caches that keep a chatty client from
 * paying for the same lookups on every event.
 */
import { createHmac } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import type { Credential } from '../graphql/context.js';
import type { Identity, LegacyCredentials } from './credentials.js';
import { firstError, type Executor } from './executor.js';
import { isUuid } from '../ids.js';

/** Every 002 reply: `data` is the result, or on failure the reason as text. */
export interface Reply {
  status: 'success' | 'failure';
  operation: string;
  data: unknown;
}

export function ok(operation: string, data: unknown): Reply {
  return { status: 'success', operation, data };
}

export function fail(operation: string, reason: string): Reply {
  return { status: 'failure', operation, data: reason };
}

/** A refusal a legacy client gets as a failure reply; anything else thrown is an internal error. */
export class Refusal extends Error {}

/** The workspace an event acts in and the credential it acts with (an API key of it). */
export interface Scope {
  workspaceId: string;
  credential: Credential;
}

export type Payload = Record<string, unknown>;

/**
 * A text field: strings as given (trimmed), numbers as their decimal form. Missing or blank is
 * undefined, or a refusal naming the field when required.
 */
export function text(p: Payload, field: string, options: { required?: boolean; max?: number; trim?: boolean } = {}): string | undefined {
  const raw = p[field];
  let value: string | undefined;
  if (typeof raw === 'string') value = options.trim === false ? raw : raw.trim();
  else if (typeof raw === 'number' && Number.isFinite(raw)) value = String(raw);
  else if (raw !== undefined && raw !== null) throw new Refusal(`${field} must be a string`);
  if (value === undefined || value.trim() === '') {
    if (options.required) throw new Refusal(`${field} is required`);
    return undefined;
  }
  if (options.max && value.length > options.max) throw new Refusal(`${field} must be at most ${options.max} characters`);
  return value;
}

/** A number field, given as a number or a numeric string; undefined when missing. */
export function number(p: Payload, field: string): number | undefined {
  const raw = p[field];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
  if (!Number.isFinite(value)) throw new Refusal(`${field} must be a number`);
  return value;
}


/** Legacy 002 timestamps: ISO 8601 in UTC with milliseconds, as its clients send `created_at`. */
export function timestamp(iso: string): string {
  return new Date(iso).toISOString();
}

/**
 * The data of a result, or a refusal with the GraphQL error's message. `UNAUTHENTICATED` (a key
 * revoked since it was checked, say) reads as the legacy credential error.
 */
export function dataOf<R>(result: ExecutionResult<R>): R {
  const error = firstError(result);
  if (error || !result.data) {
    if (error?.code === 'UNAUTHENTICATED') throw new Refusal('Invalid workspace_id or api_key');
    throw new Refusal(error?.message ?? 'The request failed');
  }
  return result.data;
}

/** A mutation's union result: the success member, or a refusal with the typed error's message. */
export function successOf<T extends { __typename: string }, N extends T['__typename']>(
  value: T,
  typename: N,
): Extract<T, { __typename: N }> {
  if (value.__typename === typename) return value as Extract<T, { __typename: N }>;
  const message = (value as { message?: unknown }).message;
  throw new Refusal(typeof message === 'string' ? message : 'The request failed');
}

/** A Map that forgets its oldest entries past a size. */
export class Bounded<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.limit) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}

/**
 * Legacy 002 knows people only by names: a message's `author`, a call's `from` and `userToCall`,
 * a ticket's `user_id`. Each name is one guest of the workspace, made on first use. Its session
 * id is a MAC of the name under a key derived from the server secret, so knowing a name is not
 * enough to sign in as its guest over GraphQL; its display name is the name itself, which is how
 * replies name it again.
 */
export class LegacyNames {
  private readonly inflight = new Map<string, Promise<Identity>>();

  constructor(
    private readonly credentials: LegacyCredentials,
    private readonly key: Buffer,
  ) {}

  sessionId(workspaceId: string, name: string): string {
    return `legacy-002:${createHmac('sha256', this.key).update(`${workspaceId}\0${name}`).digest('base64url')}`;
  }

  /** The guest a legacy name stands for in a workspace (signed in, when it must be, by `executor`'s client). */
  identity(executor: Executor, workspaceId: string, rawName: string): Promise<Identity> {
    const name = rawName.trim();
    if (!name) return Promise.reject(new Refusal('A name is required'));
    if (name.length > 100) return Promise.reject(new Refusal('Names are at most 100 characters'));
    const key = `${workspaceId}\0${name}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.credentials.guestIn(executor, workspaceId, this.sessionId(workspaceId, name), name).then((identity) => {
        if (!identity) throw new Refusal(`Could not sign in ${name}`);
        return identity;
      });
      // Only while in flight: the credentials keep the identity, and renew it before it expires.
      this.inflight.set(key, pending);
      void pending.catch(() => undefined).finally(() => this.inflight.delete(key));
    }
    return pending;
  }
}

/** How replies name a person: a guest by its display name (its legacy name), anyone else by id. */
export function legacyId(user: { id: string; displayName: string; kind: string } | null | undefined): string | null {
  if (!user) return null;
  return user.kind === 'GUEST' ? user.displayName : user.id;
}

/** The legacy id a payload names as a product user: a UUID as is, any other name as its guest. */
export async function userIdFor(names: LegacyNames, executor: Executor, scope: Scope, legacy: string): Promise<string> {
  if (isUuid(legacy)) return legacy;
  return (await names.identity(executor, scope.workspaceId, legacy)).userId;
}
