/**
 * Call events travel on one channel per user, `calls:<userId>`: every device of the user listens
 * there and keeps what is meant for it (`toDevice` / `exceptDevice`), so one publish reaches a
 * user on any instance without knowing where their devices are connected.
 */
import type { CallEndReason } from '../../generated/prisma/enums.js';
import type { CallRecord, IceCandidateRecord } from './records.js';

export type CallEventType = 'RINGING' | 'INCOMING' | 'ACCEPTED' | 'ANSWERED_ELSEWHERE' | 'DECLINED' | 'ICE_CANDIDATE' | 'ENDED';

export interface CallEvent {
  type: CallEventType;
  /** The call as it stands after the change; `call.version` orders state events. */
  call: CallRecord;
  /** INCOMING: the caller's SDP offer. ACCEPTED: the callee's SDP answer. */
  sdp?: string | null;
  /** ICE_CANDIDATE: the candidate from the other party. */
  candidate?: IceCandidateRecord | null;
  /** ENDED: why. */
  reason?: CallEndReason | null;
  /** Only the device with this id receives the event. */
  toDevice?: string | null;
  /** Every device but the one with this id receives the event. */
  exceptDevice?: string | null;
  /** ISO time of the event. */
  at: string;
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    /** Keyed by user id. */
    calls: CallEvent;
  }
}
