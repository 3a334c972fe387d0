/**
 * How a call ends, whichever transition ends it (lifecycle.ts): one conditional update in a
 * transaction with the call.ended webhook, then, after the commit, its SYSTEM message through the
 * conversation pipeline and ENDED on every party's channel. With the two things every transition
 * needs: a call's record, and publishing on a party's channel.
 */
import { notifyMissedCall } from '../notifications/listeners.js';
import type { CallEndReason, CallStatus } from '../../generated/prisma/enums.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../graphql/context.js';
import { callSelect, toCallRecord, type CallRecord } from './records.js';
import type { CallEvent } from './topics.js';
import { callData, recordWebhookEvent } from '../webhooks/events.js';
import { systemText } from './texts.js';

type Tx = Prisma.TransactionClient;

/** What a call becomes when it ends, why, and who ended it (null: nobody, e.g. the timeout). */
export interface Ending {
  status: CallStatus;
  reason: CallEndReason;
  endedById: string | null;
}

/** A call as it travels (records.ts), read now. */
export async function loadCallRecord(services: Services, id: string): Promise<CallRecord> {
  return toCallRecord(await services.db.call.findUniqueOrThrow({ where: { id }, select: callSelect }));
}

/** Publishes one call event on a party's `calls:<userId>` channel, stamped with the time. */
export function publish(services: Services, userId: string, event: Omit<CallEvent, 'at'>): Promise<void> {
  return services.pubsub.publish('calls', userId, { ...event, at: new Date().toISOString() });
}

/**
 * Ends a call inside a transaction if it is still in one of `from`: status, reason, duration,
 * SDP cleared, every line freed. False when something else settled it first.
 */
export async function endInTx(tx: Tx, callId: string, from: CallStatus[], ending: Ending, now: Date, also: Prisma.CallWhereInput = {}): Promise<boolean> {
  const current = await tx.call.findUnique({ where: { id: callId }, select: { status: true, answeredAt: true, workspaceId: true, conversationId: true } });
  if (!current || !from.includes(current.status)) return false;
  const durationSeconds =
    current.status === 'ACTIVE' && current.answeredAt ? Math.max(0, Math.round((now.getTime() - current.answeredAt.getTime()) / 1000)) : null;
  const { count } = await tx.call.updateMany({
    // answeredAt cannot change while the status stays what was read, so the duration holds.
    where: { id: callId, status: current.status, ...also },
    data: {
      status: ending.status,
      endReason: ending.reason,
      endedById: ending.endedById,
      endedAt: now,
      durationSeconds,
      offerSdp: null,
      answerSdp: null,
      version: { increment: 1 },
    },
  });
  if (count === 0) return false;
  await tx.callParticipant.updateMany({ where: { callId, lineUserId: { not: null } }, data: { lineUserId: null } });
  await recordWebhookEvent(tx, { type: 'call.ended', workspaceId: current.workspaceId, conversationId: current.conversationId, data: callData(callId) });
  return true;
}

/** Ends a call that is still in one of `from`; null when something else settled it first. */
export async function finish(services: Services, callId: string, from: CallStatus[], ending: Ending, also: Prisma.CallWhereInput = {}): Promise<CallRecord | null> {
  const now = new Date();
  const done = await services.db.$transaction((tx) => endInTx(tx, callId, from, ending, now, also));
  return done ? announceEnd(services, callId) : null;
}

/**
 * After a call ended: its SYSTEM message in the conversation, then ENDED to every party (to the
 * caller alone for BUSY: the callees never rang). A failure to write the message is logged and
 * does not undo the end, which is already committed.
 */
export async function announceEnd(services: Services, callId: string): Promise<CallRecord> {
  services.calls.disarm(callId);
  let record = await loadCallRecord(services, callId);
  try {
    const { record: message } = await services.pipeline.append(services, {
      conversationId: record.conversationId,
      authorId: null,
      kind: 'SYSTEM',
      body: systemText(record),
    });
    await services.db.call.update({ where: { id: callId }, data: { messageId: message.id }, select: { id: true } });
    record = { ...record, messageId: message.id };
  } catch (err) {
    services.logger.warn({ err, callId }, 'could not write the call’s system message');
  }
  services.logger.debug({ callId, status: record.status, reason: record.endReason, durationSeconds: record.durationSeconds }, 'call ended');
  const recipients = record.status === 'BUSY' ? [record.callerId] : record.parties.map((p) => p.userId);
  await Promise.all(recipients.map((userId) => publish(services, userId, { type: 'ENDED', call: record, reason: record.endReason })));
  if (record.status === 'MISSED') {
    await notifyMissedCall(services, {
      id: record.id,
      workspaceId: record.workspaceId,
      conversationId: record.conversationId,
      callerId: record.callerId,
      media: record.media,
      // A callee who declined knows of the call already.
      calleeIds: record.parties.filter((p) => p.role === 'CALLEE' && !p.declinedAt).map((p) => p.userId),
    }).catch((err: unknown) => services.logger.error({ err, callId }, 'could not notify of a missed call'));
  }
  return record;
}
