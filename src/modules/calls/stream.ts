/**
 * The viewer's call events on one device. Subscribes to the user's channel first, then replays
 * from the database what a device arriving now must know (an incoming call still ringing, with
 * its offer; a call this device placed, still ringing or answered with the answer), then goes
 * live. State events carry the
 * call's version: one already delivered by the replay is dropped when it arrives live, and so is
 * one older than what was delivered. ICE candidates are relayed as they come.
 *
 * Device targeting: an event with `toDevice` reaches only that device, one with `exceptDevice`
 * every other one. A subscription's device is the `deviceId` it names, else its graphql-ws
 * connection id; a client that sends its mutations over HTTP names the same `deviceId` there.
 */
import type { Context } from '../../graphql/context.js';
import { ValidationError } from '../../graphql/errors.js';
import { callStateSelect, loadCallForParty, requireCaller } from './permissions.js';
import { toCallRecord } from './records.js';
import type { CallEvent } from './topics.js';

/** Versions remembered per subscription; the oldest are forgotten first. */
const REMEMBERED = 500;

interface StreamArgs {
  deviceId?: string | null;
  callId?: string | number | null;
}

/**
 * The stream as an iterator whose return() ends the pub/sub subscription at once: the generator
 * below waits for events, and a generator's own return() would wait for the next one.
 */
export function callStream(ctx: Context, args: StreamArgs): AsyncIterableIterator<CallEvent> {
  const control: Control = { closed: false, live: null };
  const events = run(ctx, args, control);
  const close = () => {
    control.closed = true;
    void control.live?.return?.();
  };
  const iterator: AsyncIterableIterator<CallEvent> = {
    next: () => events.next(),
    return: () => {
      close();
      return events.return(undefined);
    },
    throw: (err: unknown) => {
      close();
      return events.throw(err);
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

interface Control {
  closed: boolean;
  live: AsyncIterableIterator<CallEvent> | null;
}

async function* run(ctx: Context, args: StreamArgs, control: Control): AsyncGenerator<CallEvent, undefined> {
  const me = requireCaller(ctx);
  if (args.deviceId !== null && args.deviceId !== undefined && (args.deviceId.trim() === '' || args.deviceId.length > 100)) {
    throw new ValidationError([{ path: ['deviceId'], message: 'must be 1 to 100 characters' }]);
  }
  const only = args.callId !== null && args.callId !== undefined ? (await loadCallForParty(ctx, args.callId)).row.id : null;
  const device = args.deviceId ?? ctx.connectionId ?? null;
  const live = ctx.pubsub.subscribe('calls', me);
  control.live = live;
  let nextLive: Promise<IteratorResult<CallEvent>> | null = live.next();
  /** callId → [version, types delivered at that version]. */
  const seen = new Map<string, [number, Set<string>]>();

  const fresh = (event: CallEvent): boolean => {
    if (event.type === 'ICE_CANDIDATE') return true;
    const known = seen.get(event.call.id);
    if (known && (event.call.version < known[0] || (event.call.version === known[0] && known[1].has(event.type)))) return false;
    if (!known || event.call.version > known[0]) {
      seen.delete(event.call.id);
      seen.set(event.call.id, [event.call.version, new Set([event.type])]);
      if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value!);
    } else {
      known[1].add(event.type);
    }
    return true;
  };
  const mine = (event: CallEvent): boolean =>
    (only === null || event.call.id === only) &&
    (event.toDevice == null || event.toDevice === device) &&
    (event.exceptDevice == null || event.exceptDevice !== device);

  try {
    if (control.closed) return;
    const rows = await ctx.db.call.findMany({
      where: {
        status: { in: ['RINGING', 'ACTIVE'] },
        participants: { some: { userId: me } },
        ...(only ? { id: only } : {}),
      },
      select: { ...callStateSelect, offerSdp: true, answerSdp: true },
      orderBy: { createdAt: 'asc' },
    });
    const at = new Date().toISOString();
    for (const row of rows) {
      const { offerSdp, answerSdp, ...rest } = row;
      const call = toCallRecord(rest);
      const party = call.parties.find((p) => p.userId === me);
      let event: CallEvent | null = null;
      if (row.status === 'RINGING' && party?.role === 'CALLEE' && !party.declinedAt && row.ringUntil.getTime() > Date.now()) {
        event = { type: 'INCOMING', call, sdp: offerSdp, at };
      } else if (row.status === 'RINGING' && row.callerId === me) {
        event = { type: 'RINGING', call, toDevice: row.callerDeviceId, at };
      } else if (row.status === 'ACTIVE' && row.callerId === me) {
        event = { type: 'ACCEPTED', call, sdp: answerSdp, toDevice: row.callerDeviceId, at };
      }
      if (event && mine(event) && fresh(event)) yield event;
    }

    for (;;) {
      nextLive ??= live.next();
      const next = await nextLive;
      nextLive = null;
      if (next.done) return undefined;
      if (mine(next.value) && fresh(next.value)) yield next.value;
    }
  } finally {
    await live.return?.();
  }
}
