/**
 * Where uploaded bytes live. Objects are named by keys the server generates (attachment ids),
 * never by anything a client sent, so no client can choose or traverse a path.
 *
 * The interface is the small common ground of a local disk and an S3-compatible bucket: a
 * streamed put that is all-or-nothing, a streamed get, delete, and a listing for sweeping
 * objects nothing refers to. An S3 store would implement `put` with a multipart upload it aborts
 * on error, and `get` with GetObject.
 */
import type { Readable } from 'node:stream';
import { isUuid } from '../ids.js';

export interface StoredObject {
  key: string;
  size: number;
  modifiedAt: Date;
}

export interface FileStorage {
  /** 'local' or the name of another backend. */
  readonly kind: string;
  /**
   * Streams `body` into the object `key`. The object becomes visible only once every byte is
   * written; if `body` fails (a limit refused it, the client went away), nothing is left behind
   * and the error is rethrown.
   */
  put(key: string, body: Readable): Promise<{ size: number }>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<{ body: Readable; size: number } | null>;
  /** Removes the object; removing one that does not exist is not an error. */
  delete(key: string): Promise<void>;
  /** Every stored object (for sweeping); partial writes in progress are not listed. */
  list(): AsyncIterable<StoredObject>;
  /**
   * Removes partial writes last touched before `before`: what a process that stopped mid-put left
   * (an S3 store would abort its incomplete multipart uploads). Returns how many it removed.
   */
  removePartial(before: Date): Promise<number>;
}

/** Storage keys are generated UUIDs, in lower case; anything else is refused before it reaches a backend. */
export function isKey(key: string): boolean {
  return isUuid(key) && key === key.toLowerCase();
}

export function assertKey(key: string): void {
  if (!isKey(key)) throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
}
