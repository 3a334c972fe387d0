/**
 * Legacy 003's two sockets (website chatbot), over the product's chatbot rooms:
 * - `ws/chat/<admin_username>/<consumer_id>`: one room between an admin and a visitor.
 *   `fetch_messages` → `{command: 'messages', messages}`; `new_message` `{author, content}` →
 *   every socket of the room gets `{command: 'new_message', message}`, through the room's
 *   GraphQL `conversationEvents` (so GraphQL clients' messages arrive too, and the other way round).
 * - `ws/room/<admin_username>`: the admin's list. `fetch_rooms` → `{command: 'room', rooms}`;
 *   a visitor's `new_room` `{consumer}` → `{command: 'room_exists'}` to that visitor when the room
 *   was there, else the room opens and `{command: 'new_room', room}` goes to the admin's sockets
 *   (and the visitor's), through the GraphQL `conversationsOpened` subscription, on every instance.
 *
 * The legacy sockets carried no credential: the admin is found by username (or, for a legacy name
 * outside the username rules, the email it maps to: see legacyAccount), the visitor is the guest of its consumer id, and a message whose author is
 * the admin's username is written as the admin through the shim's API key (asUserId). That is
 * the legacy system's openness, kept for its clients; docs/legacy-mapping.md says so.
 */
import type { IncomingMessage } from 'node:http';
import type { ExecutionResult } from 'graphql';
import type { Logger } from 'pino';
import type { Credential } from '../graphql/context.js';
import type { Identity, LegacyCredentials } from './credentials.js';
import { firstError, type Executor } from './executor.js';
import { microOffsetTimestamp } from './formats.js';
import {
  Legacy003AdminDocument,
  Legacy003HistoryDocument,
  Legacy003OpenedDocument,
  Legacy003OpenRoomDocument,
  Legacy003RoomDocument,
  Legacy003RoomEventsDocument,
  Legacy003RoomsDocument,
  Legacy003SendDocument,
  Legacy003VisitorRoomDocument,
  type Legacy003MessageFragment,
  type Legacy003OpenedSubscription,
  type Legacy003RoomQuery,
  type Legacy003RoomEventsSubscription,
  type Legacy003RoomFragment,
} from './generated/graphql.js';
import { legacyEmail } from './legacy-accounts.js';
import { CLOSE, LegacySocket, refuse, type Admission, type Frame } from './legacy-socket.js';

export const LEGACY_003_CHAT = /^\/ws\/chat\/([^/]+)\/([^/]+)\/?$/;
export const LEGACY_003_ROOMS = /^\/ws\/room\/([^/]+)\/?$/;

/** Messages in `fetch_messages` (the newest, oldest first). */
const HISTORY = 100;
/** Messages per room in `fetch_rooms` and `new_room`. */
const ROOM_HISTORY = 50;
/** Rooms in `fetch_rooms` at most (most recently active first), fetched a page at a time. */
const MAX_ROOMS = 500;
const PAGE = 100;
/** How long an admin's id is remembered by username. */
const ADMIN_TTL_MS = 60_000;
const MAX_CONSUMER_ID = 100;

const errorFrame = (message: string): Frame => ({ command: 'error', message });

/** Who a room's authors are in legacy terms: the admin by username, the visitor by consumer id. */
interface Names {
  adminId: string;
  admin: string;
  visitorId: string | null;
  consumer: string;
}

function legacyMessage(m: Legacy003MessageFragment, names: Names) {
  const author =
    m.author?.id === names.adminId ? names.admin : m.author && m.author.id === names.visitorId ? names.consumer : (m.author?.displayName ?? '');
  return { author, content: m.body, room: `${names.admin} ${names.consumer}`, created: microOffsetTimestamp(m.createdAt) };
}

function legacyRoom(room: Legacy003RoomFragment, admin: { id: string; username: string }) {
  const consumer = room.visitor?.sessionId ?? room.visitor?.id ?? '';
  const names: Names = { adminId: admin.id, admin: admin.username, visitorId: room.visitor?.id ?? null, consumer };
  return { consumer, messages: room.messages.nodes.map((m) => legacyMessage(m, names)) };
}

function pathPart(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? '').trim();
  } catch {
    return '';
  }
}

/** How long one lookup of an opened room serves every room socket of this instance. */
const OPENED_ROOM_TTL_MS = 5_000;

export class Legacy003Sockets {
  private readonly admins = new Map<string, { id: string; until: number }>();
  /**
   * Opened rooms being looked up: every room socket of the workspace hears each opening, and all
   * read it with the shim's one credential, so one query per opening serves them all (run on
   * behalf of the first socket's client to ask).
   */
  private readonly openedRooms = new Map<string, Promise<ExecutionResult<Legacy003RoomQuery>>>();

  constructor(
    private readonly credentials: LegacyCredentials,
    private readonly logger: Logger,
  ) {}

  /** The admin's user id by legacy username, or null when no admin of the workspace has it. */
  private async adminId(executor: Executor, workspaceId: string, username: string): Promise<string | null> {
    const key = username.toLowerCase();
    const hit = this.admins.get(key);
    if (hit && hit.until > Date.now()) return hit.id;
    // By username, or for a legacy name outside the username rules, by the email it maps to.
    const result = await executor.run(
      Legacy003AdminDocument,
      { workspaceId, username: username.trim(), email: legacyEmail(username) },
      this.credentials.service(),
    );
    const member = result.data?.workspace.memberByUsername ?? result.data?.workspace.memberByEmail;
    if (member?.role !== 'ADMIN') return null;
    if (this.admins.size > 1000) this.admins.clear();
    this.admins.set(key, { id: member.user.id, until: Date.now() + ADMIN_TTL_MS });
    return member.user.id;
  }

  private openedRoom(executor: Executor, id: string): Promise<ExecutionResult<Legacy003RoomQuery>> {
    let found = this.openedRooms.get(id);
    if (!found) {
      found = executor.run(Legacy003RoomDocument, { id, history: ROOM_HISTORY }, this.credentials.service());
      this.openedRooms.set(id, found);
      setTimeout(() => this.openedRooms.delete(id), OPENED_ROOM_TTL_MS).unref();
    }
    return found;
  }

  /** The visitor of a consumer id: its guest, with the consumer id as its name. */
  private visitor(executor: Executor, workspaceId: string, consumer: unknown): Promise<Identity | null> {
    const id = typeof consumer === 'number' ? String(consumer) : typeof consumer === 'string' ? consumer.trim() : '';
    if (!id || id.length > MAX_CONSUMER_ID) return Promise.resolve(null);
    return this.credentials.guestIn(executor, workspaceId, id, id);
  }

  /**
   * `ws/chat/<admin_username>/<consumer_id>`: the room opened and followed, then served.
   * `executor` is the socket's client's: it runs everything the socket does.
   */
  async admitChat(request: IncomingMessage, executor: Executor): Promise<Admission> {
    const [, rawAdmin, rawConsumer] = LEGACY_003_CHAT.exec(new URL(request.url ?? '/', 'http://legacy').pathname) ?? [];
    const username = pathPart(rawAdmin);
    const consumer = pathPart(rawConsumer);
    const workspaceId = await this.credentials.workspaceId();
    const adminId = username ? await this.adminId(executor, workspaceId, username) : null;
    if (!adminId) return refuse(CLOSE.notFound, 'No admin has this username');
    const visitor = await this.visitor(executor, workspaceId, consumer);
    if (!visitor) return refuse(CLOSE.badRequest, `The consumer id must be 1 to ${MAX_CONSUMER_ID} characters`);

    // The visitor's room with the admin, opened on first use (idempotent): legacy clients open
    // this socket and the room socket together, in either order.
    const opened = await executor.run(Legacy003OpenRoomDocument, { workspaceId, adminId }, visitor.credential);
    const room = opened.data?.openChatbotRoom;
    if (room?.__typename !== 'Room') {
      // Close reasons are short (123 bytes at most).
      const message = room && 'message' in room ? room.message : (firstError(opened)?.message ?? 'The room could not be opened');
      return refuse(CLOSE.forbidden, message.slice(0, 100));
    }
    // From the room's last message when opened: whatever is written meanwhile is replayed, not lost.
    const events = await executor.subscribe(Legacy003RoomEventsDocument, { conversationId: room.id, after: room.lastSeq }, visitor.credential);
    if (!(Symbol.asyncIterator in events)) return refuse(CLOSE.tryAgain, 'Could not follow the room; reconnect');
    const names: Names = { adminId, admin: username, visitorId: visitor.userId, consumer };
    return {
      abandon: () => events.return?.(),
      serve: (ws) => this.serveChat(new LegacySocket(ws, this.logger, errorFrame), executor, events, room.id, names, visitor),
    };
  }

  private serveChat(
    socket: LegacySocket,
    executor: Executor,
    events: AsyncIterableIterator<ExecutionResult<Legacy003RoomEventsSubscription>>,
    roomId: string,
    names: Names,
    visitor: Identity,
  ): void {
    const { adminId, admin: username } = names;
    socket.follow(
      events,
      (result) => {
        const event = result.data?.conversationEvents;
        if (event?.type === 'MESSAGE_ADDED' && event.message) socket.send({ command: 'new_message', message: legacyMessage(event.message, names) });
      },
      'room',
    );

    socket.listen(async (frame) => {
      if (frame.command === 'fetch_messages') {
        const history = await executor.run(Legacy003HistoryDocument, { id: roomId, history: HISTORY }, visitor.credential);
        const nodes = history.data?.conversation.messages.nodes;
        if (!nodes) return socket.error(firstError(history)?.message ?? 'The messages could not be read');
        return socket.send({ command: 'messages', messages: nodes.map((m) => legacyMessage(m, names)) });
      }
      if (frame.command === 'new_message') {
        const message = frame.message as { author?: unknown; content?: unknown } | null | undefined;
        const content = typeof message?.content === 'string' ? message.content : '';
        if (!content.trim()) return socket.error('message.content is required');
        const byAdmin = typeof message?.author === 'string' && message.author.trim().toLowerCase() === username.toLowerCase();
        // The admin writes through the shim's API key on their behalf; the visitor as its guest.
        const [credential, asUserId]: [Credential, string | undefined] = byAdmin ? [this.credentials.service(), adminId] : [visitor.credential, undefined];
        const sent = await executor.run(Legacy003SendDocument, { input: { conversationId: roomId, body: content, asUserId } }, credential);
        const out = sent.data?.sendMessage;
        if (out?.__typename !== 'Message') socket.error(out && 'message' in out ? out.message : (firstError(sent)?.message ?? 'The message was not sent'));
        return;
      }
      socket.error(`Unknown command: ${String(frame.command)}; expected fetch_messages or new_message`);
    });
  }

  /** `ws/room/<admin_username>`: new rooms followed (live), then served; `executor` as for admitChat. */
  async admitRooms(request: IncomingMessage, executor: Executor): Promise<Admission> {
    const [, rawAdmin] = LEGACY_003_ROOMS.exec(new URL(request.url ?? '/', 'http://legacy').pathname) ?? [];
    const username = pathPart(rawAdmin);
    const workspaceId = await this.credentials.workspaceId();
    const adminId = username ? await this.adminId(executor, workspaceId, username) : null;
    if (!adminId) return refuse(CLOSE.notFound, 'No admin has this username');
    const opened = await executor.subscribe(Legacy003OpenedDocument, { workspaceId }, this.credentials.service());
    if (!(Symbol.asyncIterator in opened)) return refuse(CLOSE.tryAgain, 'Could not follow new rooms; reconnect');
    // Live once INBOX_READY came: every room opened after the client's `open` is heard.
    const ready = await opened.next();
    if (ready.done || ready.value.data?.conversationsOpened.type !== 'INBOX_READY') {
      void opened.return?.();
      return refuse(CLOSE.tryAgain, 'Could not follow new rooms; reconnect');
    }
    return {
      abandon: () => opened.return?.(),
      serve: (ws) => this.serveRooms(new LegacySocket(ws, this.logger, errorFrame), executor, opened, workspaceId, { id: adminId, username }),
    };
  }

  private serveRooms(
    socket: LegacySocket,
    executor: Executor,
    opened: AsyncIterableIterator<ExecutionResult<Legacy003OpenedSubscription>>,
    workspaceId: string,
    admin: { id: string; username: string },
  ): void {
    const adminId = admin.id;
    const service = this.credentials.service();
    // What the socket has shown itself to be: the admin's list (fetch_rooms) or a visitor (new_room).
    // A visitor hears only of its own room, never of other visitors'.
    let isAdmin = false;
    let consumer: string | null = null;
    socket.follow(
      opened,
      async (result) => {
        const id = result.data?.conversationsOpened.conversationId;
        if (!id || (!isAdmin && consumer === null)) return;
        const found = await this.openedRoom(executor, id);
        const c = found.data?.conversation;
        if (c?.__typename !== 'Room' || c.roomType !== 'CHATBOT' || !c.members.some((m) => m.user.id === adminId)) return;
        const room = legacyRoom(c, admin);
        if (isAdmin || room.consumer === consumer) socket.send({ command: 'new_room', room });
      },
      'new rooms',
    );

    socket.listen(async (frame) => {
      if (frame.command === 'fetch_rooms') {
        isAdmin = true;
        const rooms: ReturnType<typeof legacyRoom>[] = [];
        let after: string | null | undefined;
        do {
          const page = await executor.run(
            Legacy003RoomsDocument,
            { workspaceId, adminId, first: PAGE, after, history: ROOM_HISTORY },
            service,
          );
          const data = page.data?.rooms;
          if (!data) return socket.error(firstError(page)?.message ?? 'The rooms could not be read');
          rooms.push(...data.nodes.map((r) => legacyRoom(r, admin)));
          after = data.pageInfo.hasNextPage ? data.pageInfo.endCursor : null;
        } while (after && rooms.length < MAX_ROOMS);
        return socket.send({ command: 'room', rooms });
      }
      if (frame.command === 'new_room') {
        const visitor = await this.visitor(executor, workspaceId, frame.consumer);
        if (!visitor) return socket.error(`consumer must be an id of 1 to ${MAX_CONSUMER_ID} characters`);
        consumer = String(frame.consumer).trim();
        const existing = await executor.run(Legacy003VisitorRoomDocument, { workspaceId, adminId }, visitor.credential);
        if (existing.data?.rooms.nodes.length) return socket.send({ command: 'room_exists' });
        const result = await executor.run(Legacy003OpenRoomDocument, { workspaceId, adminId }, visitor.credential);
        const room = result.data?.openChatbotRoom;
        // Opened: `new_room` reaches the admin's sockets (and this one) through conversationsOpened.
        if (room?.__typename !== 'Room') socket.error(room && 'message' in room ? room.message : (firstError(result)?.message ?? 'The room could not be opened'));
        return;
      }
      socket.error(`Unknown command: ${String(frame.command)}; expected fetch_rooms or new_room`);
    });
  }
}
