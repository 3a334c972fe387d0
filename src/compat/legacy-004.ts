/**
 * Legacy 004 (netroxchange): one-to-one messaging between users with a JWT.
 * REST: GET /chat/messages/<uid>/, GET /chat/get-user-threads/ (POST /chat/chat-attachment/ comes
 * with the attachments module). WebSocket: /ws/chat/room/?token= with `chat_message` answered by
 * `re_message` to the receiver. Every call is a GraphQL operation run through the executor.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Credential } from '../graphql/context.js';
import type { Executor } from './executor.js';
import { firstError } from './executor.js';
import { failure, microOffsetTimestamp, microTimestamp, success } from './formats.js';
import {
  Legacy004EventsDocument,
  Legacy004MessagesDocument,
  Legacy004OpenThreadDocument,
  Legacy004SendDocument,
  Legacy004ThreadsDocument,
  Legacy004ViewerDocument,
  type Legacy004MessageFragment,
  type Legacy004ThreadFragment,
} from './generated/graphql.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';

/** Messages returned by GET /chat/messages/<uid>/: the newest this many (the document sets no limit). */
const HISTORY = 100;

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
    if (!workspaceId) return { error: { status: 404, body: failure('Invalid receipient') } };
    return { userId: user.id, workspaceId };
  }

  async messages(req: LegacyRequest): Promise<LegacyResponse> {
    const credential = bearer(req);
    const who = await this.workspaceOf(credential);
    if ('error' in who) return who.error;
    const opened = await this.executor.run(Legacy004OpenThreadDocument, { workspaceId: who.workspaceId, userId: req.params.uid! }, credential);
    const thread = opened.data?.openDirectThread;
    if (thread?.__typename !== 'Thread') return { status: 404, body: failure('Invalid receipient') };
    const history = await this.executor.run(Legacy004MessagesDocument, { id: thread.id, last: HISTORY }, credential);
    const conversation = history.data?.conversation;
    if (!conversation) return { status: 404, body: failure('Invalid receipient') };
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
   * /ws/chat/room/?token=: the socket receives `re_message` for every message sent to the user
   * in any of their threads, and sends `chat_message` to write one. Subscriptions are the
   * GraphQL conversationEvents of each thread.
   */
  async connect(socket: WebSocket, request: IncomingMessage): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://legacy');
    const credential = bearer({ headers: request.headers, query: url.searchParams });
    // Messages may arrive while the connection is being set up: hold them until it is.
    const early: Buffer[] = [];
    const hold = (data: Buffer) => early.push(data);
    socket.on('message', hold);
    const who = await this.workspaceOf(credential);
    if ('error' in who) {
      socket.close(4401, 'Invalid or missing token');
      return;
    }
    const watched = new Map<string, AsyncIterableIterator<unknown>>();
    const threadsById = new Map<string, Legacy004ThreadFragment>();
    const watch = async (thread: Legacy004ThreadFragment) => {
      threadsById.set(thread.id, thread);
      if (watched.has(thread.id)) return;
      const stream = await this.executor.subscribe(Legacy004EventsDocument, { conversationId: thread.id }, credential);
      if (!(Symbol.asyncIterator in stream)) return;
      watched.set(thread.id, stream);
      void (async () => {
        for await (const result of stream) {
          const event = result.data?.conversationEvents;
          const m = event?.message;
          if (!event || event.type !== 'MESSAGE_ADDED' || !m || m.author?.id === who.userId) continue;
          send({
            message_body: m.body,
            sender_id: m.author?.id ?? null,
            receiver_id: who.userId,
            timestamp: microOffsetTimestamp(m.createdAt),
            created_msg_id: m.id,
            action: 're_message',
          });
        }
      })().catch(() => undefined);
    };
    const send = (payload: unknown) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload));
    };

    const initial = await this.executor.run(Legacy004ThreadsDocument, { first: 100 }, credential);
    for (const node of initial.data?.myConversations.nodes ?? []) if (node.__typename === 'Thread') await watch(node);

    const onMessage = (data: Buffer) => {
      void (async () => {
        let msg: { action?: unknown; message_body?: unknown; receiver_id?: unknown };
        try {
          msg = JSON.parse(String(data)) as typeof msg;
        } catch {
          return send({ action: 'error', message: 'Malformed JSON' });
        }
        if (msg.action !== 'chat_message') return send({ action: 'error', message: `Unknown action: ${String(msg.action)}` });
        if (typeof msg.receiver_id !== 'string' || typeof msg.message_body !== 'string') {
          return send({ action: 'error', message: 'receiver_id and message_body are required' });
        }
        const opened = await this.executor.run(Legacy004OpenThreadDocument, { workspaceId: who.workspaceId, userId: msg.receiver_id }, credential);
        const thread = opened.data?.openDirectThread;
        if (thread?.__typename !== 'Thread') return send({ action: 'error', message: 'Invalid receipient' });
        await watch(thread);
        const sent = await this.executor.run(Legacy004SendDocument, { input: { conversationId: thread.id, body: msg.message_body } }, credential);
        if (sent.data?.sendMessage.__typename !== 'Message') {
          const e = sent.data?.sendMessage;
          return send({ action: 'error', message: e && 'message' in e ? e.message : 'The message was not sent' });
        }
      })().catch(() => send({ action: 'error', message: 'Internal server error' }));
    };
    socket.off('message', hold);
    socket.on('message', onMessage);
    for (const data of early.splice(0)) onMessage(data);
    socket.on('close', () => {
      for (const stream of watched.values()) void stream.return?.();
    });
  }
}
