/**
 * The shapes legacy 002's Socket.IO server and its event handlers share (legacy-002.ts and its
 * chat, desk, call and feed parts): the state kept per socket and the context of one event. In a
 * module of their own so that the parts depend on these, not on each other.
 */
import type { ExecutionResult } from 'graphql';
import type { DefaultEventsMap, Server, Socket } from 'socket.io';
import type { Executor } from './executor.js';
import type { Legacy002CallEventsSubscription } from './generated/graphql.js';
import type { Payload, Scope } from './legacy-002-common.js';

export interface SocketState {
  /** Runs the socket's operations, on behalf of its client (its address): set at the handshake. */
  executor: Executor;
  /** Where chat and call events act: the handshake's workspace_id + api_key, else LEGACY_API_KEY's; null with neither. */
  scope: Scope | null;
  /** The name given at the handshake (`auth.username`), under which the socket takes calls. */
  username?: string;
  /** Legacy room name → room id, for the rooms this socket joined. */
  rooms: Map<string, string>;
  /** A socket's events run one after another, in the order sent, as legacy clients expect. */
  queue: Promise<void>;
  queued: number;
  /** The socket's part in calls, from the first call it places or takes. */
  call?: Promise<CallSide>;
}

export type LegacySocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketState>;
export type LegacyServer = Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketState>;

export interface EventContext {
  socket: LegacySocket;
  event: string;
  payload: Payload;
  state: SocketState;
  /** Answers on the event's reply event with `{status: 'success', operation, data}`. */
  reply(data: unknown): void;
}

export type Handler = (ctx: EventContext) => Promise<void>;

export interface CallSide {
  /** The legacy name the socket goes by in calls. */
  name: string;
  userId: string;
  workspaceId: string;
  /** Its entry in services.connections. */
  connectionId: string;
  stream: AsyncIterator<ExecutionResult<Legacy002CallEventsSubscription>>;
  /** The call this socket placed or answered, while it lasts. */
  current: string | null;
  /** Calls ringing on this socket: call id → the caller's legacy name. */
  incoming: Map<string, string>;
  closed: boolean;
}
