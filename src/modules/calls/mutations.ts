/** Signalling: start (with the offer), answer (with the answer), decline, end, and ICE relay. */
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { idArg } from '../../graphql/permissions.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { answerCall, declineCall, endCall, MAX_CALLEES, relayIceCandidate, startCall } from './lifecycle.js';
import { CallMediaEnum, CallRef } from './types.js';

/** SDP is relayed, and kept only while the call is live; a real offer is a few KiB. */
export const MAX_SDP_LENGTH = 32 * 1024;
export const MAX_CANDIDATE_LENGTH = 1024;

const sdp = z
  .string()
  .max(MAX_SDP_LENGTH, `must be at most ${MAX_SDP_LENGTH} characters`)
  .refine((s) => /^v=0\r?\n/.test(s), 'must be an SDP session description (starting with "v=0")');
const deviceId = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

const StartCallInput = builder.inputType('StartCallInput', {
  description: 'A call to place in a conversation.',
  fields: (t) => ({
    conversationId: t.id({ description: 'The conversation; its other members ring (or only `calleeId`).' }),
    media: t.field({ type: CallMediaEnum, required: false, defaultValue: 'AUDIO', description: 'AUDIO (default) or VIDEO.' }),
    sdp: t.string({ description: `The caller’s SDP offer, at most ${MAX_SDP_LENGTH} characters.`, validate: sdp }),
    calleeId: t.id({
      required: false,
      description: `Ring only this member. Required when the conversation has more than ${MAX_CALLEES} other members.`,
    }),
    deviceId: t.string({
      required: false,
      description:
        'This device’s id, as given to `callEvents(deviceId:)`; the answer and candidates come to it. Over graphql-ws it defaults to the connection.',
      validate: deviceId,
    }),
  }),
});

const AnswerCallInput = builder.inputType('AnswerCallInput', {
  description: 'An answer to a ringing call.',
  fields: (t) => ({
    callId: t.id({ description: 'The call.' }),
    sdp: t.string({ description: `The callee’s SDP answer, at most ${MAX_SDP_LENGTH} characters.`, validate: sdp }),
    deviceId: t.string({
      required: false,
      description: 'This device’s id, as given to `callEvents(deviceId:)`; the other devices stop ringing. Over graphql-ws it defaults to the connection.',
      validate: deviceId,
    }),
  }),
});

const IceCandidateInput = builder.inputType('IceCandidateInput', {
  description: 'An ICE candidate as WebRTC’s RTCIceCandidate.toJSON() gives it.',
  fields: (t) => ({
    candidate: t.string({
      description: `The candidate line (empty for end-of-candidates), at most ${MAX_CANDIDATE_LENGTH} characters.`,
      validate: z.string().max(MAX_CANDIDATE_LENGTH, `must be at most ${MAX_CANDIDATE_LENGTH} characters`),
    }),
    sdpMid: t.string({ required: false, description: 'The media stream identification tag.', validate: z.string().max(64, 'must be at most 64 characters') }),
    sdpMLineIndex: t.int({
      required: false,
      description: 'The index of the media description.',
      validate: z.number().int().min(0, 'must not be negative').max(1023, 'must be at most 1023'),
    }),
    usernameFragment: t.string({
      required: false,
      description: 'The ICE username fragment.',
      validate: z.string().max(256, 'must be at most 256 characters'),
    }),
  }),
});

const errors = { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] };

builder.mutationFields((t) => ({
  startCall: t.withAuth((_root, args) => ({ conversationWriter: idArg(args, 'input.conversationId') })).field({
    type: CallRef,
    description:
      'Places an audio or video call in a conversation with the caller’s SDP offer: the other members (or `calleeId`) ring on every device, ' +
      'until one answers, all decline, the caller ends it, or the ring timeout makes it MISSED. Comes back BUSY when every callee is in another call; ' +
      'CONFLICT when the caller is.',
    errors,
    args: { input: t.arg({ type: StartCallInput, description: 'The call; each field is described on its type.' }) },
    resolve: (_root, { input }, ctx) =>
      startCall(ctx, {
        conversationId: input.conversationId,
        media: input.media ?? 'AUDIO',
        sdp: input.sdp,
        calleeId: input.calleeId,
        deviceId: input.deviceId,
      }),
  }),
  answerCall: t.withAuth((_root, args) => ({ callParty: idArg(args, 'input.callId') })).field({
    type: CallRef,
    description:
      'Answers a ringing call with the callee’s SDP answer. The first answer wins; a later one (another device, another member) gets CONFLICT. ' +
      'The caller gets ACCEPTED with the answer; the answerer’s other devices get ANSWERED_ELSEWHERE.',
    errors,
    args: { input: t.arg({ type: AnswerCallInput, description: 'The answer; each field is described on its type.' }) },
    resolve: (_root, { input }, ctx) => answerCall(ctx, { callId: input.callId, sdp: input.sdp, deviceId: input.deviceId }),
  }),
  rejectCall: t.withAuth((_root, args) => ({ callParty: idArg(args, 'callId') })).field({
    type: CallRef,
    description: 'Declines a ringing call: REJECTED once every callee has declined (at once, for one callee); the caller is told ENDED.',
    errors,
    args: { callId: t.arg.id({ description: 'The call.' }) },
    resolve: (_root, args, ctx) => declineCall(ctx, args.callId),
  }),
  endCall: t.withAuth((_root, args) => ({ callParty: idArg(args, 'callId') })).field({
    type: CallRef,
    description:
      'Hangs up: cancels a call still ringing (the caller), declines it (a callee), or ends an active one; both sides get ENDED. ' +
      'CONFLICT when the call is already over.',
    errors,
    args: {
      callId: t.arg.id({ description: 'The call.' }),
      failed: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'The media connection could not be set up or broke: the call ends FAILED rather than ENDED.',
      }),
    },
    resolve: (_root, args, ctx) => endCall(ctx, args.callId, args.failed ?? false),
  }),
  sendIceCandidate: t.withAuth((_root, args) => ({ callParty: idArg(args, 'callId') })).field({
    type: CallRef,
    description:
      'Relays an ICE candidate to the other party’s device (from the caller while ringing: to every callee). Relayed, never stored. ' +
      'A callee sends candidates once answerCall has returned.',
    errors,
    args: {
      callId: t.arg.id({ description: 'The call.' }),
      candidate: t.arg({ type: IceCandidateInput, description: 'The candidate.' }),
    },
    resolve: (_root, args, ctx) =>
      relayIceCandidate(ctx, args.callId, {
        candidate: args.candidate.candidate,
        sdpMid: args.candidate.sdpMid ?? null,
        sdpMLineIndex: args.candidate.sdpMLineIndex ?? null,
        usernameFragment: args.candidate.usernameFragment ?? null,
      }),
  }),
}));
