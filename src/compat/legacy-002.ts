/**
 * Legacy 002 (Dowell Chat V2): its Socket.IO events on the same port (path /socket.io/), with
 * the document's event names, reply events and payload fields, each answered by GraphQL
 * operations through the executor:
 *
 * - chat: `join` / `leave` a room named by the client (one GROUP room per name and workspace,
 *   opened on first join), `message_event` answered on `my_response` and delivered live to the
 *   room's other sockets (one conversationEvents subscription per room per instance);
 * - calls (./legacy-002-calls.ts): `callUser`, `answerCall`, `endCall`, `callEnded`;
 * - the support desk (./legacy-002-desk.ts): topics and line managers on `setting_response`,
 *   tickets on `ticket_response`, ticket messages on `ticket_message_response`.
 *
 * Every reply is `{status, operation, data}`; a failure has the reason in `data` and never
 * closes the socket. docs/legacy-mapping.md has the mapping and the choices made.
 */
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import { Server } from 'socket.io';
import type { Host } from '../transport/routes.js';
import { API_KEY_PREFIX } from '../auth/tokens.js';
import { LegacyNotConfigured, type LegacyCredentials } from './credentials.js';
import type { Executor } from './executor.js';
import {
  LegacyServiceWorkspaceDocument,
  Legacy002AddMemberDocument,
  Legacy002HistoryDocument,
  Legacy002OpenRoomDocument,
  Legacy002RoomByKeyDocument,
  Legacy002SendDocument,
  type Legacy002MessageFragment,
  type MessageKind,
  type MessageSide,
} from './generated/graphql.js';
import { Legacy002Calls } from './legacy-002-calls.js';
import type { EventContext, Handler, LegacyServer, LegacySocket, SocketState } from './legacy-002-types.js';
import { Bounded, dataOf, fail, LegacyNames, ok, Refusal, successOf, text, timestamp, type Payload, type Reply, type Scope } from './legacy-002-common.js';
import { Legacy002Desk } from './legacy-002-desk.js';
import { Feeds, type FollowSpec } from './legacy-002-feed.js';
import { clientAddress } from '../security/address.js';
import { legacyGate, throttledMessage } from '../security/legacy.js';

/** The reply event of each legacy event; anything else is an unknown event. */
const REPLIES: Record<string, string> = {
  join: 'my_response',
  leave: 'my_response',
  message_event: 'my_response',
  callUser: 'my_response',
  answerCall: 'my_response',
  endCall: 'my_response',
  create_topic: 'setting_response',
  get_all_topics: 'setting_response',
  create_line_manager: 'setting_response',
  get_all_line_managers: 'setting_response',
  ticket_message_event: 'ticket_message_response',
  get_ticket_messages: 'ticket_message_response',
  create_ticket: 'ticket_response',
  get_tickets: 'ticket_response',
  close_ticket: 'ticket_response',
};

/** Messages a join sends as the room's history (the newest; the document sets no number). */
const HISTORY = 100;
/** Events a socket may have waiting for their turn; more are refused rather than queued. */
const MAX_QUEUED = 100;
/** How long an api_key's workspace is remembered (the key itself is checked on every operation). */
const KEY_TTL_MS = 30_000;


function kindOf(type: unknown): MessageKind {
  const t = typeof type === 'string' ? type.trim().toLowerCase() : '';
  return t === 'image' ? 'IMAGE' : t === 'file' ? 'FILE' : 'TEXT';
}

function sideOf(side: unknown): MessageSide | null {
  const s = typeof side === 'string' ? side.trim().toLowerCase() : '';
  return s === 'left' ? 'LEFT' : s === 'right' ? 'RIGHT' : null;
}

/** A room message as legacy 002 sent it: the `message_event` fields, with its id and time. */
export function chatMessage(roomName: string, m: Legacy002MessageFragment) {
  return {
    _id: m.id,
    type: m.kind.toLowerCase(),
    room_id: roomName,
    message_data: m.deleted ? '' : m.body,
    side: m.side ? m.side.toLowerCase() : 'left',
    author: m.author?.displayName ?? 'System',
    message_type: 'normal',
    created_at: timestamp(m.createdAt),
  };
}

/** Events refused in a row before a Socket.IO client is disconnected as a flood. */
const THROTTLED_BEFORE_DISCONNECT = 100;

export class Legacy002 {
  readonly io: LegacyServer;
  readonly names: LegacyNames;
  readonly feeds: Feeds;
  /** `<workspace>\0<room name>` → room id. */
  private readonly rooms = new Bounded<string, string>(10_000);
  /** `<room id>\0<user id>` of memberships already made. */
  private readonly members = new Bounded<string, true>(100_000);
  private readonly keys = new Bounded<string, { workspaceId: string; until: number }>(1_000);
  private readonly handlers: Record<string, Handler>;
  private readonly calls: Legacy002Calls;

  constructor(
    private readonly host: Host,
    /** The shim's executor, bound per socket to its client (handshake). */
    private readonly executor: Executor,
    private readonly credentials: LegacyCredentials,
    readonly logger: Logger,
  ) {
    const origins = host.services.config.CORS_ORIGINS;
    this.io = new Server({
      path: '/socket.io',
      serveClient: false,
      maxHttpBufferSize: 1024 * 1024,
      cors: origins.includes('*') ? { origin: '*' } : { origin: origins, credentials: true },
    });
    // The engine only: requests and upgrades reach it through the host's routes (below), so it
    // shares the port with /graphql and the other legacy paths without listening itself.
    this.io.attach(createServer());
    this.names = new LegacyNames(credentials, host.services.tokens.deriveKey('legacy-002-names'));
    this.feeds = new Feeds(this.io, logger);
    this.calls = new Legacy002Calls(this);
    const desk = new Legacy002Desk(this);
    this.handlers = {
      join: (ctx) => this.join(ctx),
      leave: (ctx) => this.leave(ctx),
      message_event: (ctx) => this.message(ctx),
      ...this.calls.handlers(),
      ...desk.handlers(),
    };
  }

  get services() {
    return this.host.services;
  }

  mount(): void {
    const engine = this.io.engine;
    const ours = (pathname: string) => pathname === '/socket.io' || pathname.startsWith('/socket.io/');
    this.host.addHttpRoute({ match: ours, handle: (req, res) => engine.handleRequest(req as never, res) });
    this.host.addUpgradeRoute({ match: ours, handle: (req, socket, head) => engine.handleUpgrade(req as never, socket, head) });
    this.host.onStop(() => this.io.close());

    this.io.use((socket, next) => {
      this.handshake(socket).then(
        () => next(),
        (err: unknown) => {
          if (!(err instanceof Refusal)) this.logger.error({ err }, 'legacy 002 handshake failed');
          const reason = err instanceof Refusal ? err.message : 'Internal server error';
          next(Object.assign(new Error(reason), { data: fail('connect', reason) }));
        },
      );
    });
    this.io.on('connection', (socket) => this.connected(socket));
  }

  /** The scope of the handshake: `auth` (or query) workspace_id + api_key, else LEGACY_API_KEY's. */
  private async handshake(socket: LegacySocket): Promise<void> {
    const fields: Payload = {};
    for (const [key, value] of Object.entries(socket.handshake.query)) fields[key] = Array.isArray(value) ? value[0] : value;
    Object.assign(fields, socket.handshake.auth as Payload);
    const workspaceId = text(fields, 'workspace_id');
    const apiKey = text(fields, 'api_key');
    const username = text(fields, 'username', { max: 100 });
    // What the socket runs, from this check of its key on, is its client's (by address).
    const executor = this.executor.for({ address: clientAddress(socket.request, this.services.config.TRUST_PROXY) });
    const scope = workspaceId || apiKey ? await this.scopeFor(executor, workspaceId, apiKey) : await this.serviceScope();
    socket.data = { executor, scope, username, rooms: new Map(), queue: Promise.resolve(), queued: 0 };
  }

  private async serviceScope(): Promise<Scope | null> {
    try {
      return { workspaceId: await this.credentials.workspaceId(), credential: this.credentials.service() };
    } catch (err) {
      if (err instanceof LegacyNotConfigured) return null;
      throw err;
    }
  }

  /** A workspace_id + api_key pair checked against each other: the key must be an API key of that workspace. */
  async scopeFor(executor: Executor, workspaceId: string | undefined, apiKey: string | undefined): Promise<Scope> {
    if (!workspaceId || !apiKey) throw new Refusal('workspace_id and api_key are required');
    if (!apiKey.startsWith(API_KEY_PREFIX)) throw new Refusal('Invalid workspace_id or api_key');
    let known = this.keys.get(apiKey);
    if (!known || known.until <= Date.now()) {
      const result = await executor.run(LegacyServiceWorkspaceDocument, {}, { kind: 'bearer', value: apiKey });
      const workspaces = result.data?.myWorkspaces ?? [];
      if (workspaces.length !== 1) throw new Refusal('Invalid workspace_id or api_key');
      known = { workspaceId: workspaces[0]!.id, until: Date.now() + KEY_TTL_MS };
      this.keys.set(apiKey, known);
    }
    if (known.workspaceId !== workspaceId.toLowerCase()) throw new Refusal('Invalid workspace_id or api_key');
    return { workspaceId: known.workspaceId, credential: { kind: 'bearer', value: apiKey } };
  }

  /** The scope chat and call events act in. */
  chatScope(state: SocketState): Scope {
    if (!state.scope) {
      throw new Refusal('Chat is not configured on this server: connect with auth {workspace_id, api_key}, or set LEGACY_API_KEY');
    }
    return state.scope;
  }

  private connected(socket: LegacySocket): void {
    const emit = socket.emit.bind(socket);
    emit('my_response', ok('connect', { message: 'Welcome to Dowell Chat', sid: socket.id }));
    // What simple-peer clients of this backend wait for before they can be called (their "my id").
    emit('me', socket.id);
    // Every event spends its address's and its identity's legacy rate limit (src/security/);
    // what it runs is attributed to the client's address by the socket's executor (handshake).
    const { defenses, config } = this.services;
    const gate = legacyGate(defenses, config, socket.request, `002:${socket.data.username ?? socket.data.scope?.workspaceId ?? socket.id}`);
    let throttledInARow = 0;
    socket.use((packet, next) => {
      // Unknown events were answered by onAny (which Socket.IO runs before middleware) and run nothing.
      if (!Object.hasOwn(this.handlers, String(packet[0]))) return next();
      gate().then(
        (throttled) => {
          if (!throttled) {
            throttledInARow = 0;
            return next();
          }
          // A client that keeps sending while refused is flooding: answering each event still
          // costs, so it is disconnected.
          if (++throttledInARow > THROTTLED_BEFORE_DISCONNECT) {
            socket.disconnect(true);
            return;
          }
          const args = packet.slice(1);
          const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: Reply) => void) : undefined;
          const reply = fail(String(packet[0]), throttledMessage(throttled));
          emit('my_response', reply);
          ack?.(reply);
        },
        (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
      );
    });
    for (const event of Object.keys(this.handlers)) {
      socket.on(event, (...args: unknown[]) => this.enqueue(socket, event, args));
    }
    socket.onAny((event: string, ...args: unknown[]) => {
      if (Object.hasOwn(this.handlers, event)) return;
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: Reply) => void) : undefined;
      const reply = fail(String(event), `Unknown event: ${String(event)}`);
      emit('my_response', reply);
      ack?.(reply);
    });
    socket.on('disconnect', (reason) => this.calls.disconnected(socket, reason));
    if (socket.data.username && socket.data.scope) {
      this.calls.register(socket, socket.data.username).catch((err: unknown) => {
        if (!(err instanceof Refusal)) this.logger.warn({ err }, 'legacy 002: could not take calls for a socket');
      });
    }
  }

  private enqueue(socket: LegacySocket, event: string, args: unknown[]): void {
    const state = socket.data;
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: Reply) => void) : undefined;
    const send = (reply: Reply) => {
      socket.emit(REPLIES[event]!, reply);
      ack?.(reply);
    };
    if (state.queued >= MAX_QUEUED) {
      send(fail(event, 'Too many requests at once: wait for the replies'));
      return;
    }
    state.queued++;
    state.queue = state.queue
      .then(() => this.handle(socket, event, args[0], send))
      .finally(() => {
        state.queued--;
      });
  }

  private async handle(socket: LegacySocket, event: string, raw: unknown, send: (reply: Reply) => void): Promise<void> {
    try {
      const payload = payloadOf(raw);
      await this.handlers[event]!({ socket, event, payload, state: socket.data, reply: (data) => send(ok(event, data)) });
    } catch (err) {
      if (err instanceof Refusal) return send(fail(event, err.message));
      this.logger.error({ err, event }, 'legacy 002 event failed');
      send(fail(event, 'Internal server error'));
    }
  }

  // --- chat ---------------------------------------------------------------------------------

  /** Opens (or gets) the room of a legacy name; also used by calls for a pair's room. */
  async openRoom(executor: Executor, scope: Scope, key: string, name?: string, memberIds?: string[]): Promise<{ id: string; lastSeq: number }> {
    const result = await executor.run(
      Legacy002OpenRoomDocument,
      { input: { workspaceId: scope.workspaceId, key, ...(name ? { name } : {}), ...(memberIds ? { memberIds } : {}) } },
      scope.credential,
    );
    const room = successOf(dataOf(result).openRoom, 'Room');
    for (const userId of memberIds ?? []) this.members.set(`${room.id}\0${userId}`, true);
    return room;
  }

  /** The room of a legacy name, which must have been opened (joined) before. */
  private async findRoom(executor: Executor, scope: Scope, name: string): Promise<string> {
    const key = `${scope.workspaceId}\0${name}`;
    const known = this.rooms.get(key);
    if (known) return known;
    const room = dataOf(await executor.run(Legacy002RoomByKeyDocument, { workspaceId: scope.workspaceId, key: name }, scope.credential)).roomByKey;
    if (!room) throw new Refusal(`Room ${name} not found: join it first`);
    this.rooms.set(key, room.id);
    return room.id;
  }

  private async ensureMember(executor: Executor, scope: Scope, roomId: string, userId: string): Promise<void> {
    const key = `${roomId}\0${userId}`;
    if (this.members.has(key)) return;
    const result = await executor.run(Legacy002AddMemberDocument, { conversationId: roomId, userId }, scope.credential);
    successOf(dataOf(result).addConversationMember, 'MutationAddConversationMemberSuccess');
    this.members.set(key, true);
  }

  private chatSpec(executor: Executor, scope: Scope, name: string, roomId: string, after: number): FollowSpec {
    return {
      room: `room:${roomId}`,
      event: 'my_response',
      operation: 'message_event',
      format: (m) => chatMessage(name, m),
      conversationId: roomId,
      after,
      credential: scope.credential,
      executor,
    };
  }

  private async join({ socket, payload, state, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = this.chatScope(state);
    const name = text(payload, 'room', { required: true, max: 200 })!;
    const room = await this.openRoom(executor, scope, name);
    this.rooms.set(`${scope.workspaceId}\0${name}`, room.id);
    state.rooms.set(name, room.id);
    const feed = this.feeds.follow(socket, this.chatSpec(executor, scope, name, room.id, room.lastSeq), true);
    let upTo = room.lastSeq;
    try {
      const history = dataOf(await executor.run(Legacy002HistoryDocument, { id: room.id, last: HISTORY }, scope.credential)).conversation;
      const nodes = history?.messages.nodes ?? [];
      upTo = nodes.reduce((max, m) => Math.max(max, m.seq), 0);
      reply({ room_id: name, message: `Welcome to room ${name}`, messages: nodes.filter((m) => !m.deleted).map((m) => chatMessage(name, m)) });
    } finally {
      feed.release(socket.id, upTo);
    }
  }

  private async leave({ socket, payload, state, reply }: EventContext): Promise<void> {
    const name = text(payload, 'room', { required: true, max: 200 })!;
    const roomId = state.rooms.get(name);
    if (!roomId) throw new Refusal(`You are not in room ${name}`);
    state.rooms.delete(name);
    const room = `room:${roomId}`;
    await socket.leave(room);
    this.io.to(room).emit('my_response', ok('leave', { room_id: name, message: `${socket.id} has left the room`, sid: socket.id }));
    reply({ room_id: name, message: `You have left room ${name}` });
  }

  private async message({ socket, payload, state, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = this.chatScope(state);
    const name = text(payload, 'room_id', { required: true, max: 200 })!;
    const body = text(payload, 'message_data', { required: true, trim: false })!;
    const author = text(payload, 'author', { max: 100 }) ?? 'Anonymous';
    const roomKey = `${scope.workspaceId}\0${name}`;
    const roomId = state.rooms.get(name) ?? (await this.findRoom(executor, scope, name));
    const me = await this.names.identity(executor, scope.workspaceId, author);
    await this.ensureMember(executor, scope, roomId, me.userId);
    const input = { conversationId: roomId, body, kind: kindOf(payload.type), side: sideOf(payload.side) };
    const cancel = this.feeds.sending(`room:${roomId}`, me.userId, socket.id);
    let message: Legacy002MessageFragment;
    try {
      let sent = dataOf(await executor.run(Legacy002SendDocument, { input }, me.credential)).sendMessage;
      if (sent.__typename === 'NotFoundError') {
        // Someone removed the author (or the room) since we last looked: look again once.
        this.members.delete(`${roomId}\0${me.userId}`);
        this.rooms.delete(roomKey);
        await this.ensureMember(executor, scope, roomId, me.userId);
        sent = dataOf(await executor.run(Legacy002SendDocument, { input }, me.credential)).sendMessage;
      }
      message = successOf(sent, 'Message');
    } catch (err) {
      cancel();
      throw err;
    }
    reply(chatMessage(name, message));
  }
}

function payloadOf(raw: unknown): Payload {
  if (raw === undefined || raw === null) return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      throw new Refusal('Malformed payload: expected an object or its JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Refusal('Malformed payload: expected an object or its JSON');
  return value as Payload;
}

/** Mounts legacy 002 on the host. */
export function installLegacy002(host: Host, executor: Executor, credentials: LegacyCredentials, logger: Logger): Legacy002 {
  const legacy = new Legacy002(host, executor, credentials, logger.child({ legacy: '002' }));
  legacy.mount();
  return legacy;
}
