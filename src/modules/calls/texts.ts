/**
 * What calls say in words: the SYSTEM message a finished call leaves in its conversation, and the
 * CONFLICT messages of a call that cannot take the change asked of it (lifecycle.ts).
 */
import type { CallMedia, CallStatus } from '../../generated/prisma/enums.js';
import type { CallRecord } from './records.js';

function noun(media: CallMedia): string {
  return media === 'VIDEO' ? 'video call' : 'audio call';
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "45 s", "3 min", "1 h 5 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** The SYSTEM message a finished call leaves in its conversation. */
export function systemText(call: Pick<CallRecord, 'status' | 'media' | 'durationSeconds'>): string {
  const what = noun(call.media);
  switch (call.status) {
    case 'ENDED':
      return `${capitalised(what)}, ${formatDuration(call.durationSeconds ?? 0)}`;
    case 'MISSED':
      return `Missed ${what}`;
    case 'REJECTED':
      return `Declined ${what}`;
    case 'CANCELLED':
      return `Cancelled ${what}`;
    case 'BUSY':
      return `Missed ${what} (busy)`;
    case 'FAILED':
      return call.durationSeconds !== null
        ? `${capitalised(what)} failed after ${formatDuration(call.durationSeconds)}`
        : `${capitalised(what)} failed`;
    default:
      return capitalised(what);
  }
}

/** A call that is over refuses every change. */
export function overText(call: { status: CallStatus }): string {
  return `This call is over (${call.status}); nothing was changed.`;
}

/** An answer that came after the ring timeout. */
export const NOT_IN_TIME = 'This call was not answered in time: it is MISSED, and the answer was not taken.';

/** An answer to a call answered already, on another device of the same callee or by another. */
export function alreadyAnswered(byMe: boolean): string {
  return byMe ? 'This call was already answered on another of your devices.' : 'This call was already answered by someone else.';
}
