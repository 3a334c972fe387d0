/**
 * Legacy 004 (netroxchange): one-to-one messaging between users with a JWT.
 * REST: GET /chat/messages/<uid>/, GET /chat/get-user-threads/ (POST /chat/chat-attachment/ comes
 * with the attachments module). WebSocket: /ws/chat/room/?token= with `chat_message` answered by
 * `re_message` to the receiver. Every call is a GraphQL operation run through the executor.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionResult } from 'graphql';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Credential } from '../graphql/context.js';
import type { Executor } from './executor.js';
import { firstError } from './executor.js';
import { failure, microOffsetTimestamp, microTimestamp, success } from './formats.js';
import {
  Legacy004InboxDocument,
  Legacy004MessagesDocument,
  Legacy004OpenThreadDocument,
  Legacy004RecentDocument,
  Legacy004SendDocument,
  Legacy004ThreadsDocument,
  Legacy004ViewerDocument,
  type Legacy004InboxSubscription,
  type Legacy004MessageFragment,
  type Legacy004RecentQuery,
  type Legacy004ThreadFragment,
} from './generated/graphql.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';

/** Messages returned by GET /chat/messages/<uid>/: the newest this many (the document sets no limit). */
const HISTORY = 100;

/** A page of messages when the socket fills a gap (the API's largest page). */
const GAP_PAGE = 100;

/** Pages read back at most to fill one gap; a longer one is delivered from its newest 1,000. */
const GAP_PAGES = 10;

const NO_RECEIVER = 'Invalid receipient';

function bearer(req: { headers: IncomingMessage['headers']; query: URLSearchParams }): Credential {
  const header = req.headers.authorization;
  const match = header ? /^(?:Bearer|JWT|Token)\s+(.+)$/i.exec(header) : null;
  const token = match?.[1] ?? req.query.get('token');
  return token ? { kind: 'bearer', value: token.trim() } : { kind: 'none' };
}

type Person = { id: string; email: string | null };

function person(user: { id: string; email?: string | null } | null | undefined): Person & { profile: null } {
  return { id: user?.id ?? '', email: user?.email ?? null, profile: null };
}

/** The legacy message shape; sender/receiver from the thread's two members. */
function legacyMessage(m: Legacy004MessageFragment, thread: Legacy004ThreadFragment) {
  const sender = thread.members.find((x) => x.user.id === m.author?.id);
  const receiver = thread.members.find((x) => x.user.id !== m.author?.id);
  return {
    id: m.id,
    sender: person(sender?.user),
    receiver: person(receiver?.user),
    attached_file_size: '0kb',
    message: m.body,
    updated: microTimestamp(m.editedAt ?? m.createdAt),
    created: microTimestamp(m.createdAt),
    seen: (receiver?.lastReadSeq ?? 0) >= m.seq,
    deleted: m.deleted,
    attached_file: null,
    attached_file_name: null,
    thread: thread.id,
  };
}

/** What the receiver's socket gets for a message. */
function liveMessage(m: Legacy004MessageFragment, receiverId: string) {
  return {
    message_body: m.body,
    sender_id: m.author?.id ?? null,
    receiver_id: receiverId,
    timestamp: microOffsetTimestamp(m.createdAt),
    created_msg_id: m.id,
    action: 're_message',
  };
}

// ---------------------------------------------------------------------------------------------
// The socket

type InboxEvent = Legacy004InboxSubscription['inboxEvents'];
type InboxStream = AsyncIterableIterator<{ data?: { inboxEvents: InboxEvent } | null; errors?: readonly unknown[] }>;

interface Live {
  userId: string;
  workspaceId: string;
  stream: InboxStream;
  /** Threads known at connect. */
  threads: string[];
}

/** What the socket knows of one conversation of the user. */
interface Followed {
  /** A thread (legacy 004 shows threads only); null until asked. */
  thread: boolean | null;
  /** The last seq handled (pushed or skipped); null before the first message seen live. */
  seq: number | null;
}

export class Legacy004 {
  constructor(private readonly executor: Executor) {}

  mount(router: Router): void {
    router.on('GET', '/chat/messages/:uid', (req) => this.messages(req));
    router.on('GET', '/chat/get-user-threads', (req) => this.threads(req));
  }

  /** The viewer's workspace: the first one they joined (legacy 004 knew no workspaces). */
  private async workspaceOf(credential: Credential): Promise<{ userId: string; workspaceId: string } | { error: LegacyResponse }> {
    const me = await this.executor.run(Legacy004ViewerDocument, {}, credential);
    const user = me.data?.me;
    if (!user) return { error: { status: 401, body: failure(firstError(me)?.message ?? 'Authentication credentials were not provided.') } };
    const workspaceId = user.memberships[0]?.workspace.id;
    if (!workspaceId) return { error: { status: 404, body: failure(NO_RECEIVER) } };
    return { userId: user.id, workspaceId };
  }

  async messages(req: LegacyRequest): Promise<LegacyResponse> {
    const credential = bearer(req);
    const who = await this.workspaceOf(credential);
    if ('error' in who) return who.error;
    const opened = await this.executor.run(Legacy004OpenThreadDocument, { workspaceId: who.workspaceId, userId: req.params.uid! }, credential);
    const thread = opened.data?.openDirectThread;
    if (thread?.__typename !== 'Thread') return { status: 404, body: failure(NO_RECEIVER) };
    const history = await this.executor.run(Legacy004MessagesDocument, { id: thread.id, last: HISTORY }, credential);
    const conversation = history.data?.conversation;
    if (!conversation) return { status: 404, body: failure(NO_RECEIVER) };
    const messages = conversation.messages.nodes.map((m) => legacyMessage(m, conversation));
    return { status: 200, body: success({ messages }, 'Messages retreived successfully') };
  }

  async threads(req: LegacyRequest): Promise<LegacyResponse> {
    const credential = bearer(req);
    const result = await this.executor.run(Legacy004ThreadsDocument, { first: 100 }, credential);
    if (!result.data) return { status: 401, body: failure(firstError(result)?.message ?? 'Authentication credentials were not provided.') };
    const threads = result.data.myConversations.nodes.flatMap((node) => {
      if (node.__typename !== 'Thread') return [];
      const [one, two] = node.members;
      return [{ id: node.id, user_one: person(one?.user), user_two: person(two?.user), craeted: microTimestamp(node.createdAt) }];
    });
    return { status: 200, body: success(threads) };
  }

  /**
   * /ws/chat/room/?token=. The handshake completes once the socket's inbox subscription is live,
   * so from a client's `open` on, nothing sent to the user is missed. A bad token is accepted and
   * then closed with 4401, as before.
   */
  upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, logger: Logger): void {
    this.accept(wss, req, socket, head, logger).catch((err: unknown) => {
      logger.error({ err }, 'legacy 004 socket failed');
      socket.destroy();
    });
  }

  private async accept(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, logger: Logger): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://legacy');
    const credential = bearer({ headers: req.headers, query: url.searchParams });
    let gone = false;
    const onGone = () => (gone = true);
    socket.once('close', onGone);
    let live: Live | 'refused' | 'failed';
    try {
      live = await this.follow(credential);
    } catch (err) {
      logger.error({ err }, 'legacy 004: could not follow the inbox');
      live = 'failed';
    } finally {
      socket.off('close', onGone);
    }
    let accepted = false;
    if (!gone) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        accepted = true;
        ws.on('error', (err) => logger.warn({ err }, 'legacy socket error'));
        if (live === 'refused') ws.close(4401, 'Invalid or missing token');
        else if (live === 'failed') ws.close(1011, 'Internal server error');
        else this.serve(ws, live, credential, logger);
      });
    }
    // ws completes (or refuses) a handshake synchronously; one it refused gets no callback.
    if (!accepted && typeof live === 'object') void live.stream.return?.();
  }

  /** Subscribes the user's inbox and waits for INBOX_READY: from then on nothing is missed. */
  private async follow(credential: Credential): Promise<Live | 'refused'> {
    const who = await this.workspaceOf(credential);
    if ('error' in who) return 'refused';
    const stream = await this.executor.subscribe(Legacy004InboxDocument, {}, credential);
    if (!(Symbol.asyncIterator in stream)) throw new Error(`inboxEvents: ${firstError(stream)?.message ?? 'refused'}`);
    try {
      const first = await stream.next();
      const ready = first.done ? null : first.value.data?.inboxEvents;
      if (ready?.type !== 'INBOX_READY') throw new Error(`inboxEvents began with ${JSON.stringify(first.value)}`);
      const known = await this.executor.run(Legacy004ThreadsDocument, { first: 100 }, credential);
      const threads = (known.data?.myConversations.nodes ?? []).flatMap((n) => (n.__typename === 'Thread' ? [n.id] : []));
      return { ...who, stream: stream as InboxStream, threads };
    } catch (err) {
      void stream.return?.();
      throw err;
    }
  }

  /**
   * One socket: its inbox stream pushes `re_message`/`re_message_file` for messages of others in
   * the user's threads, by seq, without a duplicate (an announce publishes a message again) and
   * without a gap (a gap is filled from the conversation's history). Frames from the client are
   * handled one at a time, in order.
   */
  private serve(ws: WebSocket, live: Live, credential: Credential, logger: Logger): void {
    const send = (payload: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(payload));
    };
    const followed = new Map<string, Followed>(live.threads.map((id) => [id, { thread: true, seq: null }]));

    const push = (conversation: Followed, m: Legacy004MessageFragment) => {
      if (m.seq <= (conversation.seq ?? 0)) return;
      conversation.seq = m.seq;
      if (conversation.thread && !m.deleted && m.author?.id !== live.userId) send(liveMessage(m, live.userId));
    };

    /** Pushes what the conversation holds after `after` (newest pages first, read back to it). */
    const fill = async (conversationId: string, conversation: Followed, after: number) => {
      const found: Legacy004MessageFragment[] = [];
      let before: string | null = null;
      for (let page = 0; page < GAP_PAGES; page++) {
        const result: ExecutionResult<Legacy004RecentQuery> = await this.executor.run(Legacy004RecentDocument, { id: conversationId, last: GAP_PAGE, before }, credential);
        const c = result.data?.conversation;
        if (!c) return;
        conversation.thread = c.__typename === 'Thread';
        found.push(...c.messages.nodes.filter((m) => m.seq > after));
        const oldest = c.messages.nodes[0]?.seq ?? 0;
        if (oldest <= after + 1 || !c.messages.pageInfo.hasPreviousPage) break;
        before = c.messages.pageInfo.startCursor;
      }
      conversation.seq = Math.max(conversation.seq ?? 0, after);
      for (const m of found.sort((a, b) => a.seq - b.seq)) push(conversation, m);
    };

    const handle = async (event: InboxEvent) => {
      const id = event.conversationId;
      if (!id) return;
      if (event.type === 'CONVERSATION_ADDED') {
        // The inbox follows the conversation from when it heard of it; messages sent between the
        // opening (event.lastSeq) and then reach no one live: read them.
        const conversation = followed.get(id) ?? { thread: null, seq: null };
        followed.set(id, conversation);
        await fill(id, conversation, Math.max(conversation.seq ?? 0, event.lastSeq));
        return;
      }
      const m = event.type === 'UNREAD_CHANGED' ? event.message : null;
      if (!m) return;
      let conversation = followed.get(id);
      if (!conversation) {
        conversation = { thread: null, seq: null };
        followed.set(id, conversation);
      }
      if (conversation.seq !== null && m.seq > conversation.seq + 1) {
        // A message before this one never came (an event lost on the way): read them.
        await fill(id, conversation, conversation.seq);
        return;
      }
      if (conversation.thread === null) {
        // First seen: is it a thread? (The page read for it also says.)
        await fill(id, conversation, m.seq - 1);
        return;
      }
      push(conversation, m);
    };

    void (async () => {
      for await (const result of live.stream) {
        const event = result.data?.inboxEvents;
        if (!event) break;
        await handle(event);
      }
    })()
      .catch((err: unknown) => logger.warn({ err }, 'legacy 004: live updates failed'))
      .finally(() => {
        // The stream ended without the socket closing (the subscription failed or fell behind):
        // the client reconnects.
        if (ws.readyState === ws.OPEN) ws.close(1013, 'Live updates ended; reconnect');
      });
    ws.on('close', () => void live.stream.return?.());

    let frames = Promise.resolve();
    ws.on('message', (data: Buffer) => {
      frames = frames
        .then(() => this.frame(String(data), live, credential, send))
        .catch((err: unknown) => {
          logger.warn({ err }, 'legacy 004 frame failed');
          send({ action: 'error', message: 'Internal server error' });
        });
    });
  }

  private async frame(text: string, live: Live, credential: Credential, send: (payload: unknown) => void): Promise<void> {
    let msg: { action?: unknown; message_body?: unknown; receiver_id?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return send({ action: 'error', message: 'Malformed JSON' });
    }
    if (!msg || typeof msg !== 'object') return send({ action: 'error', message: 'Malformed JSON' });
    if (msg.action === 'chat_message') {
      if (typeof msg.receiver_id !== 'string' || typeof msg.message_body !== 'string') {
        return send({ action: 'error', message: 'receiver_id and message_body are required' });
      }
      const opened = await this.executor.run(Legacy004OpenThreadDocument, { workspaceId: live.workspaceId, userId: msg.receiver_id }, credential);
      const thread = opened.data?.openDirectThread;
      if (thread?.__typename !== 'Thread') return send({ action: 'error', message: NO_RECEIVER });
      const sent = await this.executor.run(Legacy004SendDocument, { input: { conversationId: thread.id, body: msg.message_body } }, credential);
      const out = sent.data?.sendMessage;
      if (out?.__typename !== 'Message') {
        return send({ action: 'error', message: out && 'message' in out ? out.message : (firstError(sent)?.message ?? 'The message was not sent') });
      }
      return;
    }
    return send({ action: 'error', message: `Unknown action: ${String(msg.action)}` });
  }
}
