/**
 * Usernames: one handle per registered user, unique across the service whatever its case, that
 * others @mention and that logs in like the email. A handle its owner changes away from is held
 * for them for USERNAME_HOLD_DAYS, so nobody can take it over to receive their mentions or pose
 * as them in the meantime. Uniqueness and the hold are one atomic upsert on UsernameClaim's key.
 */
import type { Prisma } from '../../generated/prisma/client.js';
import { ConflictError } from '../../graphql/errors.js';
import { usernameKey } from '../../graphql/validators.js';

/**
 * Gives `userId` the handle `name` inside the caller's transaction: claims its key (free, lapsed
 * from someone's hold, or already theirs), puts any previous handle of theirs on hold, and writes
 * it on the user. CONFLICT when someone else holds it.
 */
export async function claimUsername(tx: Prisma.TransactionClient, userId: string, name: string, holdDays: number): Promise<void> {
  const key = usernameKey(name);
  const now = new Date();
  const claimed = await tx.$queryRaw<{ key: string }[]>`
    INSERT INTO "UsernameClaim" ("key", "userId", "heldUntil", "createdAt") VALUES (${key}, ${userId}::uuid, NULL, ${now}::timestamptz)
    ON CONFLICT ("key") DO UPDATE SET "userId" = EXCLUDED."userId", "heldUntil" = NULL, "createdAt" = EXCLUDED."createdAt"
    WHERE "UsernameClaim"."userId" = EXCLUDED."userId"
       OR ("UsernameClaim"."heldUntil" IS NOT NULL AND "UsernameClaim"."heldUntil" <= ${now}::timestamptz)
    RETURNING "key"`;
  if (claimed.length === 0) throw new ConflictError('This username is taken; choose another.', 'username');
  await tx.usernameClaim.updateMany({
    where: { userId, key: { not: key }, heldUntil: null },
    data: { heldUntil: new Date(now.getTime() + holdDays * 86_400_000) },
  });
  // Another user's key lapsed from a hold may still sit on that user's row only if they chose it
  // again, which the claim above would have refused; so the unique usernameKey cannot collide.
  await tx.user.update({ where: { id: userId }, data: { username: name.trim(), usernameKey: key } });
}
