/** Ids in the API are UUIDs; anything else cannot name an object, so it is NOT_FOUND. */
import { isUuid } from '../ids.js';
import { NotFoundError } from './errors.js';

/** Returns the id as a string, or throws NOT_FOUND for the entity when it cannot be an id. */
export function parseId(value: string | number, entity: string): string {
  const id = String(value);
  if (!isUuid(id)) throw new NotFoundError(entity);
  return id.toLowerCase();
}
