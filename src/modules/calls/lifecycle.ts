/**
 * The call state machine. Every change is one conditional update in the database (`WHERE status
 * = <the state it leaves>`), so when two things race (two devices answering, an answer against
 * the ring timeout, a hang-up against a disconnect) exactly one wins and the others learn what
 * happened instead. After the commit come the side effects: the events on each party's channel
 * and, when a call is over, its SYSTEM message through the conversation pipeline.
 *
 *   RINGING ──answer──▶ ACTIVE ──end / disconnect──▶ ENDED (or FAILED)
 *      └─ timeout ▶ MISSED, every callee declines ▶ REJECTED, caller hangs up / leaves ▶ CANCELLED
 *   (every callee already on a line: BUSY at once)
 *
 * SDP is kept on the row only while it is useful (the offer while ringing, so a device that
 * connects late still rings; the answer while active) and cleared when the call ends; ICE
 * candidates are relayed and never stored.
 *
 * How a call ends and is announced is ending.ts; what calls say in words (the SYSTEM message,
 * CONFLICT messages) is texts.ts.
 */
import type { CallMedia, CallStatus } from '../../generated/prisma/enums.js';
import type { Context, Services } from '../../graphql/context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { isUniqueViolation } from '../../db/errors.js';
import { conversationAccess } from '../conversations/permissions.js';
import { toCallRecord, type CallRecord, type IceCandidateRecord } from './records.js';
import { loadCallForParty, requireCaller } from './permissions.js';
import { callData, recordWebhookEvent } from '../webhooks/events.js';
import { announceEnd, endInTx, finish, loadCallRecord, publish, type Ending } from './ending.js';
import { alreadyAnswered, NOT_IN_TIME, overText } from './texts.js';

/** A call rings at most this many members at once; in larger conversations, name the callee. */
export const MAX_CALLEES = 16;

/** The device a request speaks for: the one the client named, else its graphql-ws connection. */
function deviceOf(ctx: Context, deviceId: string | null | undefined): string | null {
  return deviceId ?? ctx.connectionId ?? null;
}

export interface StartCallInput {
  conversationId: string | number;
  media: CallMedia;
  sdp: string;
  calleeId?: string | number | null;
  deviceId?: string | null;
}

/**
 * Starts a call in a conversation: rings the named member, or every other member (up to
 * MAX_CALLEES). Callees already on a line are skipped; when that is all of them, the call is
 * BUSY at once. The caller must not be on a line already.
 */
export async function startCall(ctx: Context, input: StartCallInput): Promise<CallRecord> {
  const me = requireCaller(ctx);
  const { conversation } = await conversationAccess(ctx, input.conversationId);
  let calleeIds: string[];
  if (input.calleeId !== null && input.calleeId !== undefined) {
    const calleeId = parseId(input.calleeId, 'User');
    if (calleeId === me) throw new ValidationError([{ path: ['input', 'calleeId'], message: 'must be someone other than you' }]);
    const member = await ctx.db.conversationMember.count({ where: { conversationId: conversation.id, userId: calleeId } });
    if (!member) throw new NotFoundError('User', 'That user is not a member of this conversation.');
    calleeIds = [calleeId];
  } else {
    const members = await ctx.db.conversationMember.findMany({
      where: { conversationId: conversation.id, userId: { not: me } },
      select: { userId: true },
      orderBy: { joinedAt: 'asc' },
      take: MAX_CALLEES + 1,
    });
    if (members.length === 0) {
      throw new ValidationError([{ path: ['input', 'conversationId'], message: 'has nobody else in it to call' }]);
    }
    if (members.length > MAX_CALLEES) {
      throw new ValidationError([
        { path: ['input', 'calleeId'], message: `is required: the conversation has more than ${MAX_CALLEES} other members` },
      ]);
    }
    calleeIds = members.map((m) => m.userId);
  }

  const mine = await ctx.db.callParticipant.findUnique({ where: { lineUserId: me }, select: { callId: true } });
  if (mine) throw new ConflictError(`You are already in a call (${mine.callId}); end it before starting another.`);
  const busy = new Set(
    (await ctx.db.callParticipant.findMany({ where: { lineUserId: { in: calleeIds } }, select: { userId: true } })).map((p) => p.userId),
  );
  const ringing = calleeIds.filter((id) => !busy.has(id));
  const now = new Date();
  const base = {
    workspaceId: conversation.workspaceId,
    conversationId: conversation.id,
    callerId: me,
    media: input.media,
    callerDeviceId: deviceOf(ctx, input.deviceId),
    ringUntil: new Date(now.getTime() + ctx.config.CALL_RING_TIMEOUT_MS),
    createdAt: now,
  };

  if (ringing.length === 0) {
    const call = await ctx.db.$transaction(async (tx) => {
      const busyCall = await tx.call.create({
        data: {
          ...base,
          status: 'BUSY',
          endReason: 'BUSY',
          endedAt: now,
          participants: { create: [{ userId: me, role: 'CALLER' }, ...calleeIds.map((userId) => ({ userId, role: 'CALLEE' as const }))] },
        },
        select: { id: true },
      });
      await recordWebhookEvent(tx, { type: 'call.ended', workspaceId: base.workspaceId, conversationId: base.conversationId, data: callData(busyCall.id) });
      return busyCall;
    });
    return announceEnd(ctx, call.id);
  }

  let id: string;
  try {
    ({ id } = await ctx.db.call.create({
      data: {
        ...base,
        status: 'RINGING',
        offerSdp: input.sdp,
        // The caller takes their line here: the unique index refuses a second one.
        participants: { create: [{ userId: me, role: 'CALLER', lineUserId: me }, ...ringing.map((userId) => ({ userId, role: 'CALLEE' as const }))] },
      },
      select: { id: true },
    }));
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('You are already in a call; end it before starting another.');
    throw err;
  }
  const record = await loadCallRecord(ctx, id);
  ctx.logger.debug({ callId: id, conversationId: conversation.id, callees: ringing.length, busy: busy.size }, 'call ringing');
  ctx.calls.arm(id, record.ringUntil);
  await Promise.all([
    publish(ctx, me, { type: 'RINGING', call: record, toDevice: base.callerDeviceId }),
    ...ringing.map((userId) => publish(ctx, userId, { type: 'INCOMING', call: record, sdp: input.sdp })),
  ]);
  return record;
}

class LostRace extends Error {}

/**
 * Answers a ringing call. The first answer wins: the switch to ACTIVE is one conditional update,
 * so of two devices (or two members) answering at once exactly one succeeds and the other gets
 * CONFLICT. The winner's SDP answer goes to the caller's device; the callee's other devices and
 * the other callees are told it was answered elsewhere.
 */
export async function answerCall(ctx: Context, input: { callId: string | number; sdp: string; deviceId?: string | null }): Promise<CallRecord> {
  const { row, party, me } = await loadCallForParty(ctx, input.callId);
  if (party.role !== 'CALLEE') throw new ForbiddenError('Only someone this call rings can answer it.');
  if (party.declinedAt) throw new ConflictError('You declined this call; nothing was changed.');
  if (row.status === 'ACTIVE') {
    throw new ConflictError(alreadyAnswered(row.answeredById === me));
  }
  if (row.status !== 'RINGING') throw new ConflictError(overText(row));
  const now = new Date();
  if (row.ringUntil <= now) {
    await expireCall(ctx, row.id);
    throw new ConflictError(NOT_IN_TIME);
  }
  const device = deviceOf(ctx, input.deviceId);
  try {
    await ctx.db.$transaction(async (tx) => {
      const { count } = await tx.call.updateMany({
        where: { id: row.id, status: 'RINGING', ringUntil: { gt: now } },
        data: {
          status: 'ACTIVE',
          answeredById: me,
          answerDeviceId: device,
          answeredAt: now,
          answerSdp: input.sdp,
          offerSdp: null,
          version: { increment: 1 },
        },
      });
      if (count === 0) throw new LostRace();
      // Taking the line fails on the unique index when the answerer is in another call,
      // rolling the answer back.
      await tx.callParticipant.update({ where: { callId_userId: { callId: row.id, userId: me } }, data: { lineUserId: me }, select: { callId: true } });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('You are in another call; end it before answering this one.');
    if (!(err instanceof LostRace)) throw err;
    const latest = await ctx.db.call.findUnique({ where: { id: row.id }, select: { status: true, answeredById: true } });
    if (latest?.status === 'ACTIVE') {
      throw new ConflictError(alreadyAnswered(latest.answeredById === me));
    }
    if (latest?.status === 'RINGING') {
      // Still ringing, so the deadline passed in between.
      await expireCall(ctx, row.id);
      throw new ConflictError(NOT_IN_TIME);
    }
    throw new ConflictError(overText(latest ?? { status: 'ENDED' }));
  }
  ctx.calls.disarm(row.id);
  const record = await loadCallRecord(ctx, row.id);
  await Promise.all([
    publish(ctx, row.callerId, { type: 'ACCEPTED', call: record, sdp: input.sdp, toDevice: row.callerDeviceId }),
    // Without a device id the answering device cannot be told apart: all of the answerer's
    // devices hear it, and the one that answered knows it did.
    publish(ctx, me, { type: 'ANSWERED_ELSEWHERE', call: record, exceptDevice: device }),
    ...record.parties
      .filter((p) => p.role === 'CALLEE' && p.userId !== me)
      .map((p) => publish(ctx, p.userId, { type: 'ANSWERED_ELSEWHERE', call: record })),
  ]);
  return record;
}

/**
 * Declines a ringing call. With one callee (or once every callee has declined) the call is
 * REJECTED; in a group the others ring on and the decliner's devices stop ringing.
 */
export async function declineCall(ctx: Context, rawId: string | number): Promise<CallRecord> {
  const { row, party, me } = await loadCallForParty(ctx, rawId);
  if (party.role !== 'CALLEE') throw new ForbiddenError('Only someone this call rings can decline it; the caller ends it with endCall.');
  return decline(ctx, row, party, me);
}

async function decline(
  ctx: Context,
  row: { id: string; status: CallStatus; answeredById: string | null },
  party: { declinedAt: Date | null },
  me: string,
): Promise<CallRecord> {
  if (party.declinedAt) throw new ConflictError('You already declined this call; nothing was changed.');
  if (row.status === 'ACTIVE') {
    throw new ConflictError(
      row.answeredById === me ? 'This call is in progress; end it with endCall.' : alreadyAnswered(false),
    );
  }
  if (row.status !== 'RINGING') throw new ConflictError(overText(row));
  const now = new Date();
  const outcome = await ctx.db.$transaction(async (tx) => {
    // Locks the row, so that of callees declining together the last one sees nobody left.
    const { count } = await tx.call.updateMany({ where: { id: row.id, status: 'RINGING' }, data: { version: { increment: 1 } } });
    if (count === 0) return 'lost' as const;
    await tx.callParticipant.updateMany({ where: { callId: row.id, userId: me, declinedAt: null }, data: { declinedAt: now } });
    const left = await tx.callParticipant.count({ where: { callId: row.id, role: 'CALLEE', declinedAt: null } });
    if (left > 0) return 'declined' as const;
    await endInTx(tx, row.id, ['RINGING'], { status: 'REJECTED', reason: 'DECLINED', endedById: me }, now);
    return 'rejected' as const;
  });
  if (outcome === 'lost') {
    const latest = await ctx.db.call.findUniqueOrThrow({ where: { id: row.id }, select: { status: true, answeredById: true } });
    throw new ConflictError(latest.status === 'ACTIVE' ? 'This call was already answered.' : overText(latest));
  }
  if (outcome === 'rejected') return announceEnd(ctx, row.id);
  const record = await loadCallRecord(ctx, row.id);
  await publish(ctx, me, { type: 'DECLINED', call: record });
  return record;
}

/**
 * Ends a call: the caller cancels a ringing one; a callee's hang-up while ringing declines;
 * either party of an active call ends it (FAILED when `failed`, i.e. the media never connected
 * or broke). Ending a call that is over is a CONFLICT and changes nothing.
 */
export async function endCall(ctx: Context, rawId: string | number, failed = false): Promise<CallRecord> {
  const { row, party, me } = await loadCallForParty(ctx, rawId);
  let ended: CallRecord | null;
  if (row.status === 'RINGING') {
    if (party.role === 'CALLEE') return decline(ctx, row, party, me);
    ended = await finish(ctx, row.id, ['RINGING'], { status: 'CANCELLED', reason: 'CANCELLED', endedById: me });
  } else if (row.status === 'ACTIVE') {
    if (me !== row.callerId && me !== row.answeredById) throw new ForbiddenError('This call was answered by someone else; you are not in it.');
    ended = await finish(ctx, row.id, ['ACTIVE'], failed ? { status: 'FAILED', reason: 'FAILED', endedById: me } : { status: 'ENDED', reason: 'HUNG_UP', endedById: me });
  } else {
    throw new ConflictError(overText(row));
  }
  if (ended) return ended;
  // Something settled it first (an answer, the timeout, the other party): say what.
  const latest = await loadCallRecord(ctx, row.id);
  if (latest.status === 'ACTIVE') throw new ConflictError('The call was answered meanwhile; end it again to hang up.');
  throw new ConflictError(overText(latest));
}

/**
 * Relays one ICE candidate to the other party: from the caller while ringing to every callee
 * (who may set the offer before answering), and between the two parties once connected. Only
 * relayed, never stored.
 */
export async function relayIceCandidate(ctx: Context, rawId: string | number, candidate: IceCandidateRecord): Promise<CallRecord> {
  const { row, me } = await loadCallForParty(ctx, rawId);
  const record = toCallRecord(row);
  if (row.status === 'RINGING') {
    if (me !== row.callerId) throw new ConflictError('Answer the call before sending candidates.');
    await Promise.all(
      record.parties.filter((p) => p.role === 'CALLEE' && !p.declinedAt).map((p) => publish(ctx, p.userId, { type: 'ICE_CANDIDATE', call: record, candidate })),
    );
    return record;
  }
  if (row.status === 'ACTIVE') {
    if (me === row.callerId) {
      await publish(ctx, row.answeredById!, { type: 'ICE_CANDIDATE', call: record, candidate, toDevice: row.answerDeviceId });
    } else if (me === row.answeredById) {
      await publish(ctx, row.callerId, { type: 'ICE_CANDIDATE', call: record, candidate, toDevice: row.callerDeviceId });
    } else {
      throw new ForbiddenError('This call was answered by someone else; you are not in it.');
    }
    return record;
  }
  throw new ConflictError(`${overText(row)} Candidates are no longer relayed.`);
}

/** RINGING past its ring timeout becomes MISSED; both sides are told. False if already settled. */
export async function expireCall(services: Services, callId: string): Promise<boolean> {
  const ended = await finish(services, callId, ['RINGING'], { status: 'MISSED', reason: 'NO_ANSWER', endedById: null }, { ringUntil: { lte: new Date() } });
  return ended !== null;
}

/**
 * A party is gone from every instance: a ringing call they placed is CANCELLED, an active one
 * ENDED, both with reason DISCONNECTED; the other side is told. False if already settled.
 */
export async function dropParty(services: Services, callId: string, status: CallStatus, userId: string): Promise<boolean> {
  if (status !== 'RINGING' && status !== 'ACTIVE') return false;
  const ending: Ending =
    status === 'RINGING'
      ? { status: 'CANCELLED', reason: 'DISCONNECTED', endedById: userId }
      : { status: 'ENDED', reason: 'DISCONNECTED', endedById: userId };
  // Only while they still hold the line in this call.
  const ended = await finish(services, callId, [status], ending, { participants: { some: { lineUserId: userId } } });
  return ended !== null;
}
