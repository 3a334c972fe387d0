/**
 * The rules for input every module shares, one of each (zod schemas, used as Pothos `validate`):
 * the same field is checked the same way wherever it is accepted, and its error reads the same.
 * A module's own one-off rules stay beside its mutations.
 */
import { z } from 'zod';

/** An email address, kept in lower case. */
export const email = z.string().trim().toLowerCase().email('must be an email address').max(254);

export const password = z.string().min(8, 'must be at least 8 characters').max(200, 'must be at most 200 characters');

/** A person's name as others see it. */
export const displayName = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** A name or title: of a workspace, a room, a thread. */
export const name = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** A sender's idempotency key: sending again with it answers the first message. */
export const clientMessageId = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** Letters, digits, `_`, `.` and `-`; 3 to 32 characters; begins with a letter or digit and
 * ends with a letter, digit or `_` (so "@ada." at the end of a sentence mentions "ada"). */
export const USERNAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{1,30})[A-Za-z0-9_]$/;

/** Words that mean something else in a mention or would mislead others; nobody may hold them. */
export const RESERVED_USERNAMES = new Set([
  'here', 'everyone', 'channel', 'all', 'admin', 'administrator', 'root', 'system', 'support', 'staff',
  'moderator', 'me', 'null', 'undefined', 'api', 'help', 'anonymous', 'guest',
]);

/** A username (src/modules/users/usernames.ts), as given; compare them by {@link usernameKey}. */
export const username = z
  .string()
  .trim()
  .min(3, 'must be at least 3 characters')
  .max(32, 'must be at most 32 characters')
  .regex(USERNAME_PATTERN, 'may hold letters, digits, _ . - only, begin with a letter or digit and end with a letter, digit or _')
  .refine((u) => !RESERVED_USERNAMES.has(u.toLowerCase()), 'is reserved');

/** What makes two usernames the same: case does not matter. */
export function usernameKey(name: string): string {
  return name.trim().toLowerCase();
}
