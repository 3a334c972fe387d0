/**
 * Ids are UUIDs everywhere: the API's objects, storage keys, the legacy APIs' ids and file paths.
 * One pattern, so that "could this name an object?" has one answer.
 */

/** A UUID's text (any case), for composing larger patterns (a file path, say). */
export const UUID_SOURCE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

const UUID = new RegExp(`^${UUID_SOURCE}$`);

/** Whether the value is a UUID's text (any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
