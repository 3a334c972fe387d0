/** Ids in the API are UUIDs; anything else cannot name an object, so it is NOT_FOUND. */
import { NotFoundError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Returns the id as a string, or throws NOT_FOUND for the entity when it cannot be an id. */
export function parseId(value: string | number, entity: string): string {
  const id = String(value);
  if (!isUuid(id)) throw new NotFoundError(entity);
  return id.toLowerCase();
}
