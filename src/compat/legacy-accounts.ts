/**
 * Which product account a legacy username stands for (docs/legacy-mapping.md): a legacy username
 * that follows the product's rules is the account's username; an email address is its email; any
 * other (too short, reserved, other characters) maps to `<username>@users.legacy.invalid`, as
 * before usernames existed. Shared by every legacy API that names users (000-004) and by the
 * shim's credentials.
 */
import { RESERVED_USERNAMES, USERNAME_PATTERN } from '../graphql/validators.js';

export const LEGACY_EMAIL_DOMAIN = 'users.legacy.invalid';

/** The product email for a legacy username (an email address stays as it is). */
export function legacyEmail(username: string): string {
  const u = username.trim().toLowerCase();
  return u.includes('@') ? u : `${u}@${LEGACY_EMAIL_DOMAIN}`;
}

/** Whether a legacy username can be a product username (else it maps to an email). */
export function isHandle(name: string): boolean {
  return USERNAME_PATTERN.test(name.trim()) && !RESERVED_USERNAMES.has(name.trim().toLowerCase());
}

/** What logIn's `login` is for a legacy username: the username itself, or the email it maps to. */
export function legacyLogin(name: string): string {
  return isHandle(name) ? name.trim() : legacyEmail(name);
}

/** The account fields for a legacy username and optional email. */
export function legacyAccount(name: string, email?: string): { username: string | null; email: string | null } {
  if (isHandle(name)) return { username: name.trim(), email: email ?? null };
  return { username: null, email: email ?? legacyEmail(name) };
}
