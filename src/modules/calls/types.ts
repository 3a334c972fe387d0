/** Calls in GraphQL: the Call (a record, also carried whole in events), its parties and events. */
import { builder } from '../../graphql/builder.js';
import { UserKindEnum } from '../users/types.js';
import type { CallPartyRecord, CallRecord, IceCandidateRecord } from './records.js';
import type { CallEvent } from './topics.js';

export const CallMediaEnum = builder.enumType('CallMedia', {
  description: 'What a call carries.',
  values: {
    AUDIO: { description: 'Voice only.' },
    VIDEO: { description: 'Voice and video.' },
  } as const,
});

export const CallStatusEnum = builder.enumType('CallStatus', {
  description: 'Where a call stands: RINGING, then ACTIVE, then ENDED; or over without an answer (MISSED, REJECTED, CANCELLED, BUSY), or FAILED.',
  values: {
    RINGING: { description: 'Offered; the callees’ devices ring until one answers, all decline, or the ring timeout passes.' },
    ACTIVE: { description: 'Answered: the caller and the answerer are connected.' },
    ENDED: { description: 'Answered, then hung up, or a party disconnected (see endReason).' },
    MISSED: { description: 'Nobody answered within the ring timeout.' },
    REJECTED: { description: 'Declined by the callee (by every callee, in a group).' },
    CANCELLED: { description: 'The caller hung up, or disconnected, before anyone answered.' },
    BUSY: { description: 'Every callee was already in another call; nothing rang.' },
    FAILED: { description: 'A party reported that the media connection could not be set up or was lost.' },
  } as const,
});

export const CallEndReasonEnum = builder.enumType('CallEndReason', {
  description: 'Why a call is over.',
  values: {
    HUNG_UP: { description: 'A party hung up.' },
    CANCELLED: { description: 'The caller hung up before an answer.' },
    DECLINED: { description: 'The callee declined.' },
    NO_ANSWER: { description: 'Nobody answered in time.' },
    BUSY: { description: 'The callee was in another call.' },
    DISCONNECTED: { description: 'A party’s last connection closed (or their server went away) mid-call.' },
    FAILED: { description: 'A party reported a media failure.' },
  } as const,
});

export const CallRoleEnum = builder.enumType('CallRole', {
  description: 'A party’s side of a call.',
  values: {
    CALLER: { description: 'Started the call.' },
    CALLEE: { description: 'Was rung.' },
  } as const,
});

export const CallPartyRef = builder.objectRef<CallPartyRecord>('CallParty').implement({
  description: 'A party to a call: its caller or one of the callees it rang.',
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The user’s id.' }),
    displayName: t.exposeString('displayName', { description: 'Their display name.' }),
    kind: t.field({ type: UserKindEnum, description: 'Registered user or website visitor.', resolve: (p) => p.kind }),
    role: t.field({ type: CallRoleEnum, description: 'Caller or callee.', resolve: (p) => p.role }),
    declinedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When this callee declined; null otherwise.',
      resolve: (p) => p.declinedAt,
    }),
  }),
});

export const CallRef = builder.objectRef<CallRecord>('Call').implement({
  // The tenant boundary, from the record itself (no SQL), however a call is reached.
  authScopes: (call) => ({ workspace: { workspaceId: call.workspaceId, guests: true } }),
  description:
    'An audio or video call placed in a conversation. Only its parties see it. Signalling (SDP, ICE) travels in `callEvents`; ' +
    'the call keeps its state and history.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The call’s id.' }),
    conversationId: t.exposeID('conversationId', { description: 'The conversation it was placed in.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace it belongs to.' }),
    media: t.field({ type: CallMediaEnum, description: 'Audio or video.', resolve: (c) => c.media }),
    status: t.field({ type: CallStatusEnum, description: 'Where it stands.', resolve: (c) => c.status }),
    endReason: t.field({ type: CallEndReasonEnum, nullable: true, description: 'Why it is over; null while live.', resolve: (c) => c.endReason }),
    version: t.exposeInt('version', {
      description: 'Goes up with every change of state; an event with a lower version than one already seen is stale.',
    }),
    caller: t.field({
      type: CallPartyRef,
      description: 'Who called.',
      resolve: (c) => c.parties.find((p) => p.role === 'CALLER')!,
    }),
    callees: t.field({
      type: [CallPartyRef],
      description: 'Who it rang.',
      resolve: (c) => c.parties.filter((p) => p.role === 'CALLEE'),
    }),
    answeredBy: t.field({
      type: CallPartyRef,
      nullable: true,
      description: 'The callee who answered; null until answered.',
      resolve: (c) => c.parties.find((p) => p.userId === c.answeredById) ?? null,
    }),
    endedById: t.exposeID('endedById', {
      nullable: true,
      description: 'Who ended it (hung up, declined, or disconnected); null when it ended by itself.',
    }),
    startedAt: t.field({ type: 'DateTime', description: 'When it was placed.', resolve: (c) => c.createdAt }),
    ringUntil: t.field({ type: 'DateTime', description: 'When ringing turns into MISSED.', resolve: (c) => c.ringUntil }),
    answeredAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was answered.', resolve: (c) => c.answeredAt }),
    endedAt: t.field({ type: 'DateTime', nullable: true, description: 'When it ended.', resolve: (c) => c.endedAt }),
    durationSeconds: t.exposeInt('durationSeconds', {
      nullable: true,
      description: 'Seconds from answer to end; null when never answered or still going.',
    }),
    messageId: t.exposeID('messageId', {
      nullable: true,
      description: 'The SYSTEM message it left in the conversation when it ended (e.g. "Video call, 3 min").',
    }),
  }),
});

export const IceCandidateRef = builder.objectRef<IceCandidateRecord>('IceCandidate').implement({
  description: 'An ICE candidate as WebRTC’s RTCIceCandidateInit has it.',
  fields: (t) => ({
    candidate: t.exposeString('candidate', { description: 'The candidate line; empty for end-of-candidates.' }),
    sdpMid: t.exposeString('sdpMid', { nullable: true, description: 'The media stream identification tag.' }),
    sdpMLineIndex: t.exposeInt('sdpMLineIndex', { nullable: true, description: 'The index of the media description.' }),
    usernameFragment: t.exposeString('usernameFragment', { nullable: true, description: 'The ICE username fragment.' }),
  }),
});

export const CallEventTypeEnum = builder.enumType('CallEventType', {
  description: 'What happened to a call, as one of the viewer’s devices hears it.',
  values: {
    RINGING: { description: 'Your call rings on the callees’ devices. Sent to the device that placed it (again when it resubscribes).' },
    INCOMING: { description: 'You are being called: ring. `sdp` holds the caller’s offer.' },
    ACCEPTED: { description: 'Your call was answered: `sdp` holds the answer. Sent to the device that placed the call.' },
    ANSWERED_ELSEWHERE: {
      description: 'Stop ringing: the call was answered on another of your devices, or by another member.',
    },
    DECLINED: { description: 'Stop ringing: you declined the call (maybe on another device); others may still answer.' },
    ICE_CANDIDATE: { description: 'An ICE candidate from the other party: `candidate`.' },
    ENDED: { description: 'The call is over: `call.status` and `reason` say how.' },
  } as const,
});

export const CallEventRef = builder.objectRef<CallEvent>('CallEvent').implement({
  description: 'One call event for the viewer. State events carry `call.version`; drop one lower than a version already seen.',
  fields: (t) => ({
    type: t.field({ type: CallEventTypeEnum, description: 'What happened.', resolve: (e) => e.type }),
    call: t.field({ type: CallRef, description: 'The call as it stands after the event.', resolve: (e) => e.call }),
    sdp: t.string({ nullable: true, description: 'INCOMING: the SDP offer. ACCEPTED: the SDP answer.', resolve: (e) => e.sdp ?? null }),
    candidate: t.field({ type: IceCandidateRef, nullable: true, description: 'ICE_CANDIDATE: the candidate.', resolve: (e) => e.candidate ?? null }),
    reason: t.field({ type: CallEndReasonEnum, nullable: true, description: 'ENDED: why.', resolve: (e) => e.reason ?? null }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (e) => e.at }),
  }),
});
