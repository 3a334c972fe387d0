/** Password hashing with Argon2id (@node-rs/argon2: maintained, prebuilt, no install script). */
import { hash, verify } from '@node-rs/argon2';

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

// A real hash of a random password: verifying against it when the user does not exist costs the
// same time as a real check, so response times do not tell registered emails apart.
const dummyHash = hash(`dummy-${Math.random()}`);

export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (!stored) {
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}
