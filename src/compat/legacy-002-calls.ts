/**
 * Legacy 002 calls: the old server relayed simple-peer signals between sockets (`callUser` with
 * the offer, `answerCall` with the answer, `endCall`, and `callEnded` to everyone on a
 * disconnect). Here each socket taking part in calls is a device of a guest (one per legacy
 * name: `from`, `userToCall`, or the socket id its `me` event gave it), subscribed to
 * callEvents with the socket id as its deviceId, and registered as a live connection so that its
 * disconnect ends its call (the calls module's own rule). The signals become startCall,
 * answerCall, sendIceCandidate and endCall in a room the two parties share.
 */
import { firstError } from './executor.js';
import {
  Legacy002AnswerCallDocument,
  Legacy002CallEventsDocument,
  Legacy002EndCallDocument,
  Legacy002SendIceCandidateDocument,
  Legacy002StartCallDocument,
  type IceCandidateInput,
} from './generated/graphql.js';
import { Bounded, dataOf, Refusal, successOf, text, type LegacyNames, type Scope } from './legacy-002-common.js';
import type { CallSide, EventContext, Handler, LegacyServer, LegacySocket, SocketState } from './legacy-002-types.js';
import type { Executor } from './executor.js';
import type { Services } from '../graphql/context.js';
import type { Logger } from 'pino';

/** What the call events need of the legacy 002 server (legacy-002.ts). */
export interface CallsHost {
  readonly io: LegacyServer;
  readonly names: LegacyNames;
  readonly services: Services;
  readonly logger: Logger;
  chatScope(state: SocketState): Scope;
  openRoom(executor: Executor, scope: Scope, key: string, name?: string, memberIds?: string[]): Promise<{ id: string; lastSeq: number }>;
}

/** How a client sends its signals, and so how it gets them: simple-peer objects, their JSON, or bare SDP. */
type Form = 'object' | 'json' | 'sdp';

interface Signal {
  form: Form;
  sdp?: string;
  candidate?: IceCandidateInput;
}


const SIGNAL_HELP = 'must be a WebRTC signal: a simple-peer signal ({type, sdp} or {candidate}), its JSON, or an SDP string';

function parseSignal(raw: unknown, field: string): Signal {
  let form: Form = 'object';
  let value = raw;
  if (typeof raw === 'string') {
    if (raw.trimStart().startsWith('v=0')) return { form: 'sdp', sdp: raw };
    try {
      value = JSON.parse(raw) as unknown;
      form = 'json';
    } catch {
      throw new Refusal(`${field} ${SIGNAL_HELP}`);
    }
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.sdp === 'string') return { form, sdp: o.sdp };
    const c = o.candidate as Record<string, unknown> | undefined;
    if (c && typeof c === 'object' && typeof c.candidate === 'string') {
      return {
        form,
        candidate: {
          candidate: c.candidate,
          ...(typeof c.sdpMid === 'string' ? { sdpMid: c.sdpMid } : {}),
          ...(typeof c.sdpMLineIndex === 'number' ? { sdpMLineIndex: c.sdpMLineIndex } : {}),
          ...(typeof c.usernameFragment === 'string' ? { usernameFragment: c.usernameFragment } : {}),
        },
      };
    }
  }
  throw new Refusal(`${field} ${SIGNAL_HELP}`);
}

function encode(form: Form, signal: { type: string; sdp?: string | null; candidate?: unknown }): unknown {
  if (form === 'object') return signal;
  if (form === 'sdp' && signal.sdp) return signal.sdp;
  return JSON.stringify(signal);
}

export class Legacy002Calls {
  /** What this instance knows of callers: the `name` they gave, and how they send signals. */
  private readonly profiles = new Bounded<string, { name: string; form: Form }>(10_000);

  constructor(private readonly legacy: CallsHost) {}

  handlers(): Record<string, Handler> {
    return {
      callUser: (ctx) => this.callUser(ctx),
      answerCall: (ctx) => this.answerCall(ctx),
      endCall: (ctx) => this.endCall(ctx),
    };
  }

  /**
   * The socket's part in calls, under `name` unless it already has one (the first name stays);
   * set up on behalf of that socket's client (its executor), whichever socket asks.
   */
  register(socket: LegacySocket, name: string): Promise<CallSide> {
    const state = socket.data;
    if (state.call) return state.call;
    const pending = this.open(socket, name);
    state.call = pending;
    pending.catch(() => {
      if (state.call === pending) state.call = undefined;
    });
    return pending;
  }

  private async open(socket: LegacySocket, name: string): Promise<CallSide> {
    const { names, services } = this.legacy;
    const { executor } = socket.data;
    const scope = this.legacy.chatScope(socket.data);
    const identity = await names.identity(executor, scope.workspaceId, name);
    if (socket.disconnected) throw new Refusal('The socket disconnected');
    const stream = await executor.subscribe(Legacy002CallEventsDocument, { deviceId: socket.id }, identity.credential);
    if (!(Symbol.asyncIterator in stream)) throw new Refusal(firstError(stream)?.message ?? 'Could not take calls');
    const side: CallSide = {
      name: name.trim(),
      userId: identity.userId,
      workspaceId: scope.workspaceId,
      connectionId: services.connections.open({ kind: 'guest', userId: identity.userId, workspaceId: scope.workspaceId }).id,
      stream,
      current: null,
      incoming: new Map(),
      closed: false,
    };
    void this.consume(socket, side).catch((err: unknown) => this.legacy.logger.warn({ err }, 'legacy 002 call events failed'));
    if (socket.disconnected) this.close(side, 1006);
    return side;
  }

  private formFor(side: CallSide, callerId: string): Form {
    return this.profiles.get(side.userId)?.form ?? this.profiles.get(callerId)?.form ?? 'object';
  }

  private async consume(socket: LegacySocket, side: CallSide): Promise<void> {
    for (let next = await side.stream.next(); !next.done; next = await side.stream.next()) {
      const event = next.value.data?.callEvents;
      if (!event) continue;
      const call = event.call;
      const from = call.caller.displayName;
      const name = this.profiles.get(call.caller.userId)?.name ?? from;
      const form = this.formFor(side, call.caller.userId);
      switch (event.type) {
        case 'INCOMING':
          side.incoming.set(call.id, from);
          socket.emit('callUser', { signal: encode(form, { type: 'offer', sdp: event.sdp }), from, name });
          break;
        case 'RINGING':
          side.current ??= call.id;
          break;
        case 'ACCEPTED':
          side.current = call.id;
          socket.emit('callAccepted', encode(form, { type: 'answer', sdp: event.sdp }));
          break;
        case 'ICE_CANDIDATE': {
          const signal = encode(form, { type: 'candidate', candidate: event.candidate });
          // As the old server relayed them: the callee's signals on callAccepted, the caller's on callUser.
          if (call.caller.userId === side.userId) socket.emit('callAccepted', signal);
          else socket.emit('callUser', { signal, from, name });
          break;
        }
        case 'ANSWERED_ELSEWHERE':
        case 'DECLINED':
        case 'ENDED':
          side.incoming.delete(call.id);
          if (side.current === call.id) side.current = null;
          socket.emit('callEnded');
          break;
      }
    }
  }

  /** The socket is gone: its connection closes, and with its user's last one their call ends. */
  disconnected(socket: LegacySocket, reason: string): void {
    const pending = socket.data?.call;
    if (!pending) return;
    const code = reason === 'client namespace disconnect' || reason === 'server namespace disconnect' ? 1000 : 1006;
    pending.then(
      (side) => this.close(side, code),
      () => undefined,
    );
  }

  private close(side: CallSide, code: number): void {
    if (side.closed) return;
    side.closed = true;
    this.legacy.services.connections.close(side.connectionId, code);
    void Promise.resolve(side.stream.return?.()).catch(() => undefined);
  }

  private async credentialOf(executor: Executor, side: CallSide) {
    return (await this.legacy.names.identity(executor, side.workspaceId, side.name)).credential;
  }

  private async relay(executor: Executor, side: CallSide, candidate: IceCandidateInput): Promise<void> {
    if (!side.current) throw new Refusal('There is no call to send this candidate to');
    const result = await executor.run(
      Legacy002SendIceCandidateDocument,
      { callId: side.current, candidate },
      await this.credentialOf(executor, side),
    );
    successOf(dataOf(result).sendIceCandidate, 'Call');
  }

  private async callUser({ socket, payload, state }: EventContext): Promise<void> {
    const { executor } = state;
    const scope: Scope = this.legacy.chatScope(state);
    const userToCall = text(payload, 'userToCall', { required: true, max: 100 })!;
    const signal = parseSignal(payload.signalData, 'signalData');
    const me = await this.register(socket, state.username ?? text(payload, 'from', { max: 100 }) ?? socket.id);
    this.profiles.set(me.userId, { name: text(payload, 'name', { max: 100 }) ?? me.name, form: signal.form });
    if (signal.candidate) return this.relay(executor, me, signal.candidate);

    // A socket id (what `me` gave) reaches that socket; any other name, the guest of that name.
    const target = this.legacy.io.sockets.sockets.get(userToCall);
    if (target && target.data.scope?.workspaceId !== scope.workspaceId) throw new Refusal(`${userToCall} cannot be called from here`);
    const callee = target ? await this.register(target, target.data.username ?? target.id) : null;
    const calleeId = callee?.userId ?? (await this.legacy.names.identity(executor, scope.workspaceId, userToCall)).userId;
    if (calleeId === me.userId) throw new Refusal('You cannot call yourself');
    const room = await this.legacy.openRoom(
      executor,
      scope,
      `call:${[me.userId, calleeId].sort().join(':')}`,
      `Call: ${me.name} & ${callee?.name ?? userToCall}`.slice(0, 100),
      [me.userId, calleeId],
    );
    const result = await executor.run(
      Legacy002StartCallDocument,
      {
        input: {
          conversationId: room.id,
          media: /^m=video /m.test(signal.sdp!) ? 'VIDEO' : 'AUDIO',
          sdp: signal.sdp!,
          calleeId,
          deviceId: socket.id,
        },
      },
      await this.credentialOf(executor, me),
    );
    me.current = successOf(dataOf(result).startCall, 'Call').id;
  }

  private async answerCall({ socket, payload, state }: EventContext): Promise<void> {
    const side = await state.call?.catch(() => undefined);
    if (!side) throw new Refusal('There is no incoming call to answer');
    const signal = parseSignal(payload.signal, 'signal');
    this.profiles.set(side.userId, { name: this.profiles.get(side.userId)?.name ?? side.name, form: signal.form });
    if (signal.candidate) return this.relay(state.executor, side, signal.candidate);
    const to = text(payload, 'to', { max: 100 });
    let callId: string | undefined;
    for (const [id, from] of side.incoming) if (!to || from === to) callId = id;
    callId ??= [...side.incoming.keys()].pop();
    if (!callId) throw new Refusal('There is no incoming call to answer');
    const result = await state.executor.run(
      Legacy002AnswerCallDocument,
      { input: { callId, sdp: signal.sdp!, deviceId: socket.id } },
      await this.credentialOf(state.executor, side),
    );
    successOf(dataOf(result).answerCall, 'Call');
    side.incoming.delete(callId);
    side.current = callId;
  }

  private async endCall({ state }: EventContext): Promise<void> {
    const side = await state.call?.catch(() => undefined);
    const callId = side?.current ?? (side ? [...side.incoming.keys()].pop() : undefined);
    if (!side || !callId) throw new Refusal('There is no call to end');
    const result = await state.executor.run(Legacy002EndCallDocument, { callId }, await this.credentialOf(state.executor, side));
    successOf(dataOf(result).endCall, 'Call');
  }
}
