/**
 * The call as it travels: one JSON-safe record read once per change and carried whole in events,
 * so no subscriber reads the database to deliver one.
 */
import type { Prisma } from '../../generated/prisma/client.js';
import type { CallEndReason, CallMedia, CallRole, CallStatus, UserKind } from '../../generated/prisma/enums.js';

export interface CallPartyRecord {
  userId: string;
  displayName: string;
  kind: UserKind;
  role: CallRole;
  declinedAt: string | null;
}

export interface CallRecord {
  id: string;
  workspaceId: string;
  conversationId: string;
  media: CallMedia;
  status: CallStatus;
  endReason: CallEndReason | null;
  version: number;
  callerId: string;
  answeredById: string | null;
  endedById: string | null;
  parties: CallPartyRecord[];
  ringUntil: string;
  createdAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  messageId: string | null;
}

export interface IceCandidateRecord {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
  usernameFragment: string | null;
}

/** The Prisma selection that {@link toCallRecord} reads. */
export const callSelect = {
  id: true,
  workspaceId: true,
  conversationId: true,
  media: true,
  status: true,
  endReason: true,
  version: true,
  callerId: true,
  answeredById: true,
  endedById: true,
  ringUntil: true,
  createdAt: true,
  answeredAt: true,
  endedAt: true,
  durationSeconds: true,
  messageId: true,
  participants: {
    orderBy: [{ role: 'asc' }, { createdAt: 'asc' }, { userId: 'asc' }],
    select: { userId: true, role: true, declinedAt: true, user: { select: { displayName: true, kind: true } } },
  },
} satisfies Prisma.CallSelect;

type Row = Omit<CallRecord, 'parties' | 'ringUntil' | 'createdAt' | 'answeredAt' | 'endedAt'> & {
  ringUntil: Date;
  createdAt: Date;
  answeredAt: Date | null;
  endedAt: Date | null;
  participants: { userId: string; role: CallRole; declinedAt: Date | null; user: { displayName: string; kind: UserKind } }[];
};

export function toCallRecord(row: Row): CallRecord {
  const { participants, ringUntil, createdAt, answeredAt, endedAt, ...rest } = row;
  return {
    ...rest,
    parties: participants.map((p) => ({
      userId: p.userId,
      displayName: p.user.displayName,
      kind: p.user.kind,
      role: p.role,
      declinedAt: p.declinedAt?.toISOString() ?? null,
    })),
    ringUntil: ringUntil.toISOString(),
    createdAt: createdAt.toISOString(),
    answeredAt: answeredAt?.toISOString() ?? null,
    endedAt: endedAt?.toISOString() ?? null,
  };
}

/** Whether a call is still going (ringing or connected). */
export function isLive(status: CallStatus): boolean {
  return status === 'RINGING' || status === 'ACTIVE';
}
