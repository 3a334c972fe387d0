/**
 * Claims (legacy 001: "no two agents working on the same message at once"). An agent claims a
 * conversation, or one message of it, to work on it. A claim is a lease: exclusive, it lapses
 * unless renewed (claiming again renews it), and it ends when its holder releases it, when the
 * ticket closes, or when the holder's last live connection closes. While it is held, another
 * agent's claim is refused, and so is another agent's reply (a pipeline guard), naming the holder.
 *
 * Exclusivity is a row per (conversation, target) locked with SELECT … FOR UPDATE: of any number
 * of concurrent claims exactly one finds the row free and takes it; the others wait for the lock,
 * then find it held.
 */
import { Prisma } from '../../generated/prisma/client.js';
import type { ClaimReleaseReason } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { ClaimHeldError, ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import type { AppendGuard, AppendInput } from '../conversations/pipeline.js';
import type { SupportQueueEvent } from './topics.js';
import { randomUUID } from 'node:crypto';

type Tx = Prisma.TransactionClient;

/** A burst of claims on one row queues on its lock while holding pooled connections: wait longer than Prisma's 2 s default. */
const TX_OPTIONS = { maxWait: 15_000, timeout: 15_000 } as const;

/** The target of a claim on a whole conversation; a message claim's target is the message id. */
export const WHOLE_CONVERSATION = 'conversation';

export interface ClaimRecord {
  id: string;
  conversationId: string;
  workspaceId: string;
  messageId: string | null;
  holderId: string;
  holderName: string;
  claimedAt: Date;
  expiresAt: Date;
  releasedAt: Date | null;
  releaseReason: ClaimReleaseReason | null;
}

interface ClaimRow {
  id: string;
  conversationId: string;
  workspaceId: string;
  messageId: string | null;
  holderId: string;
  claimedAt: Date;
  expiresAt: Date;
  releasedAt: Date | null;
}

const withHolder = { holder: { select: { displayName: true } } } as const;

function toRecord(row: ClaimRow & { releaseReason: ClaimReleaseReason | null; holder: { displayName: string } }): ClaimRecord {
  const { holder, ...rest } = row;
  return { ...rest, holderName: holder.displayName };
}

function isHeld(row: Pick<ClaimRow, 'releasedAt' | 'expiresAt'>, now: Date): boolean {
  return row.releasedAt === null && row.expiresAt.getTime() > now.getTime();
}

async function lockClaim(tx: Tx, conversationId: string, target: string): Promise<ClaimRow | null> {
  const rows = await tx.$queryRaw<ClaimRow[]>`
    SELECT "id", "conversationId", "workspaceId", "messageId", "holderId", "claimedAt", "expiresAt", "releasedAt"
    FROM "ConversationClaim"
    WHERE "conversationId" = ${conversationId}::uuid AND "target" = ${target}
    FOR UPDATE`;
  const row = rows[0];
  // Raw rows carry timestamps as the driver gives them; normalise to Date.
  return row
    ? { ...row, claimedAt: new Date(row.claimedAt), expiresAt: new Date(row.expiresAt), releasedAt: row.releasedAt ? new Date(row.releasedAt) : null }
    : null;
}

/** The current claim on a conversation (or message), if one is held. */
export async function activeClaim(services: Services, conversationId: string, messageId: string | null = null): Promise<ClaimRecord | null> {
  const row = await services.db.conversationClaim.findUnique({
    where: { conversationId_target: { conversationId, target: messageId ?? WHOLE_CONVERSATION } },
    include: withHolder,
  });
  return row && isHeld(row, new Date()) ? toRecord(row) : null;
}

export function claimEvent(type: 'CLAIM_TAKEN' | 'CLAIM_RELEASED', claim: ClaimRecord): SupportQueueEvent {
  return {
    type,
    workspaceId: claim.workspaceId,
    conversationId: claim.conversationId,
    ticket: null,
    lineManagerOpenTickets: null,
    urgency: null,
    claim: {
      claimId: claim.id,
      holderId: claim.holderId,
      holderName: claim.holderName,
      messageId: claim.messageId,
      expiresAt: claim.expiresAt.toISOString(),
      releaseReason: type === 'CLAIM_RELEASED' ? claim.releaseReason : null,
    },
    queueVersion: null,
    at: new Date().toISOString(),
  };
}

async function announce(services: Services, type: 'CLAIM_TAKEN' | 'CLAIM_RELEASED', claims: ClaimRecord[]): Promise<void> {
  await Promise.all(claims.map((c) => services.pubsub.publish('supportQueue', c.workspaceId, claimEvent(type, c))));
}

/**
 * Claims a conversation or a message for `holderId`, or renews their claim. Throws
 * ClaimHeldError when someone else holds it.
 */
export async function takeClaim(
  services: Services,
  input: { conversationId: string; workspaceId: string; messageId: string | null; holderId: string; leaseMs: number },
): Promise<{ claim: ClaimRecord; renewed: boolean }> {
  const target = input.messageId ?? WHOLE_CONVERSATION;
  const outcome = await services.db.$transaction(async (tx) => {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + input.leaseMs);
    let row = await lockClaim(tx, input.conversationId, target);
    if (!row) {
      const id = randomUUID();
      // A concurrent first claim makes this wait for it, then insert nothing.
      const { count } = await tx.conversationClaim.createMany({
        data: [{ id, conversationId: input.conversationId, workspaceId: input.workspaceId, target, messageId: input.messageId, holderId: input.holderId, claimedAt: now, expiresAt }],
        skipDuplicates: true,
      });
      if (count === 1) return { kind: 'taken' as const, id, lapsed: null };
      row = await lockClaim(tx, input.conversationId, target);
      if (!row) throw new Error('a claim row vanished while locked');
    }
    if (isHeld(row, now) && row.holderId !== input.holderId) {
      const holder = await tx.user.findUniqueOrThrow({ where: { id: row.holderId }, select: { id: true, displayName: true } });
      return { kind: 'refused' as const, holder, expiresAt: row.expiresAt };
    }
    const renewed = isHeld(row, now);
    // A lease that lapsed without the sweeper noticing yet: announce its end with the new claim.
    const lapsed = !renewed && row.releasedAt === null
      ? await tx.user.findUniqueOrThrow({ where: { id: row.holderId }, select: { displayName: true } }).then((h) => ({ ...row!, holderName: h.displayName }))
      : null;
    await tx.conversationClaim.update({
      where: { id: row.id },
      data: { holderId: input.holderId, claimedAt: renewed ? row.claimedAt : now, expiresAt, releasedAt: null, releaseReason: null },
    });
    return { kind: renewed ? ('renewed' as const) : ('taken' as const), id: row.id, lapsed };
  }, TX_OPTIONS);
  if (outcome.kind === 'refused') throw new ClaimHeldError(outcome.holder, outcome.expiresAt, input.messageId);
  const row = await services.db.conversationClaim.findUniqueOrThrow({ where: { id: outcome.id }, include: withHolder });
  const claim = toRecord(row);
  if (outcome.lapsed) {
    await announce(services, 'CLAIM_RELEASED', [{ ...outcome.lapsed, releasedAt: outcome.lapsed.expiresAt, releaseReason: 'EXPIRED' }]);
  }
  if (outcome.kind === 'taken') await announce(services, 'CLAIM_TAKEN', [claim]);
  return { claim, renewed: outcome.kind === 'renewed' };
}

/** Releases a held claim: by its holder, or by anyone when `force` (an admin). */
export async function releaseClaim(
  services: Services,
  input: { conversationId: string; messageId: string | null; by: string | null; force: boolean },
): Promise<ClaimRecord> {
  const target = input.messageId ?? WHOLE_CONVERSATION;
  const id = await services.db.$transaction(async (tx) => {
    const row = await lockClaim(tx, input.conversationId, target);
    const now = new Date();
    if (!row || !isHeld(row, now)) throw new NotFoundError('Claim', `No one holds a claim on this ${input.messageId ? 'message' : 'conversation'}.`);
    if (row.holderId !== input.by && !input.force) {
      const holder = await tx.user.findUniqueOrThrow({ where: { id: row.holderId }, select: { displayName: true } });
      throw new ForbiddenError(`${holder.displayName} (${row.holderId}) holds this claim; only they or an admin may release it.`);
    }
    await tx.conversationClaim.update({ where: { id: row.id }, data: { releasedAt: now, releaseReason: 'RELEASED' } });
    return row.id;
  }, TX_OPTIONS);
  const claim = toRecord(await services.db.conversationClaim.findUniqueOrThrow({ where: { id }, include: withHolder }));
  await announce(services, 'CLAIM_RELEASED', [claim]);
  return claim;
}

/** Ends every claim still held on a conversation, inside the caller's transaction (closing a ticket). */
export async function endClaimsIn(tx: Tx, conversationId: string, reason: ClaimReleaseReason, now: Date): Promise<ClaimRecord[]> {
  const rows = await tx.conversationClaim.updateManyAndReturn({
    where: { conversationId, releasedAt: null },
    data: { releasedAt: now, releaseReason: reason },
    include: withHolder,
  });
  return rows.map(toRecord);
}

/** Ends every claim a user holds (their last connection closed) and announces it. */
export async function releaseClaimsOf(services: Services, holderId: string, reason: ClaimReleaseReason): Promise<ClaimRecord[]> {
  const now = new Date();
  const rows = await services.db.conversationClaim.updateManyAndReturn({
    where: { holderId, releasedAt: null, expiresAt: { gt: now } },
    data: { releasedAt: now, releaseReason: reason },
    include: withHolder,
  });
  const claims = rows.map(toRecord);
  await announce(services, 'CLAIM_RELEASED', claims);
  return claims;
}

/**
 * Marks lapsed leases released and announces them. Each lapsed row is matched by one UPDATE,
 * so with several instances sweeping, each lapse is announced once.
 */
export async function expireLapsedClaims(services: Services): Promise<ClaimRecord[]> {
  const now = new Date();
  const rows = await services.db.conversationClaim.updateManyAndReturn({
    where: { releasedAt: null, expiresAt: { lte: now } },
    data: { releasedAt: now, releaseReason: 'EXPIRED' },
    include: withHolder,
  });
  const claims = rows.map(toRecord);
  await announce(services, 'CLAIM_RELEASED', claims);
  return claims;
}

export { announce as announceClaims };

/**
 * The send-path guard: a closed ticket takes no messages, and while an agent holds a claim on the
 * conversation (or on the message replied to), another staff member's message is refused. The
 * customer is never held back by an agent's claim. A pipeline guard (app.ts): every mutation that
 * sends a message lists ClaimHeldError and ConflictError in its result.
 *
 * Most conversations have nothing to guard (a room, an open ticket no one claims): `clear` says
 * so in SQL and the append statement requires it, so such a send reads nothing here. `check`
 * reads only when that fails (a live claim, whoever holds it and whatever it targets, or a closed
 * ticket), and answers a whole group commit at once: one read of the conversation's ticket and
 * live claims for every message waiting, and the authors' roles only when another agent holds a
 * claim.
 */
export const refuseWhileClaimed: AppendGuard = {
  // The app's clock, as `check` and the leases use (a claim's expiresAt is the app's time plus
  // the lease): both parts then agree on whether a lease has lapsed. Stricter than `check` (any
  // live claim, a closed ticket row whatever the conversation's kind), never looser.
  clear: (conversationId) => Prisma.sql`
    NOT EXISTS (SELECT 1 FROM "ConversationClaim" c
                WHERE c."conversationId" = ${conversationId}::uuid AND c."releasedAt" IS NULL AND c."expiresAt" > ${new Date()}::timestamptz)
    AND NOT EXISTS (SELECT 1 FROM "SupportTicket" t WHERE t."conversationId" = ${conversationId}::uuid AND t.status = 'CLOSED')`,
  check: (services, conversationId, inputs) => refusals(services, conversationId, inputs),
};

/** The guard's detailed answer, per message of a commit (`refuseWhileClaimed.check`). */
async function refusals(services: Services, conversationId: string, inputs: readonly AppendInput[]): Promise<(Error | undefined)[]> {
  const now = new Date();
  const targets = [WHOLE_CONVERSATION, ...new Set(inputs.flatMap((i) => (i.replyToId ? [i.replyToId] : [])))];
  const row = await services.db.conversation.findUnique({
    where: { id: conversationId },
    select: {
      kind: true,
      workspaceId: true,
      ticket: { select: { status: true, customerId: true } },
      claims: {
        where: { target: { in: targets }, releasedAt: null, expiresAt: { gt: now } },
        select: { target: true, holderId: true, expiresAt: true, messageId: true, holder: { select: { id: true, displayName: true } } },
      },
    },
  });
  if (!row) return inputs.map(() => undefined);
  const closed = row.kind === 'TICKET' && row.ticket?.status === 'CLOSED';
  // Per message: the claim of another holder that would stop it, when its author is not the customer.
  const blocking = inputs.map((input) => {
    // A claim keeps two agents from answering the customer at once; internal notes answer no one.
    if (!input.authorId || input.kind === 'SYSTEM' || input.visibility === 'INTERNAL') return undefined;
    if (row.ticket?.customerId === input.authorId) return undefined;
    return row.claims.find((c) => c.holderId !== input.authorId && (c.target === WHOLE_CONVERSATION || c.target === input.replyToId));
  });
  const authors = [...new Set(inputs.filter((_, i) => blocking[i]).map((i) => i.authorId!))];
  const staff = new Set<string>();
  if (authors.length > 0) {
    const memberships = await services.db.membership.findMany({
      where: { workspaceId: row.workspaceId, userId: { in: authors }, role: { in: ['ADMIN', 'AGENT'] } },
      select: { userId: true },
    });
    for (const m of memberships) staff.add(m.userId);
  }
  return inputs.map((input, i) => {
    if (closed && input.kind !== 'SYSTEM') return new ConflictError('This ticket is closed; reopen it (reopenTicket) to write in it.');
    const other = blocking[i];
    if (other && staff.has(input.authorId!)) return new ClaimHeldError(other.holder, other.expiresAt, other.messageId);
    return undefined;
  });
}
