/**
 * Legacy 004 (netroxchange): one-to-one messaging between users with a JWT.
 * REST: GET /chat/messages/<uid>/, GET /chat/get-user-threads/, POST /chat/chat-attachment/ (a
 * message with a file, streamed into sendAttachment). WebSocket: /ws/chat/room/?token= with
 * `chat_message` answered by `re_message` to the receiver, and `chat_message_file` (the announce
 * after an upload) by `re_message_file`. Every call is a GraphQL operation run through the executor.
 */
import type { IncomingMessage } from 'node:http';
import type { ExecutionResult } from 'graphql';
import type { Logger } from 'pino';
import type { Credential } from '../graphql/context.js';
import type { Executor } from './executor.js';
import { firstError } from './executor.js';
import { failure, legacyFileSize, microOffsetTimestamp, microTimestamp, success } from './formats.js';
import {
  Legacy004AnnounceDocument,
  Legacy004InboxDocument,
  Legacy004MessagesDocument,
  Legacy004OpenThreadDocument,
  Legacy004RecentDocument,
  Legacy004SendDocument,
  Legacy004SendFileDocument,
  Legacy004ThreadsDocument,
  Legacy004UploadLimitsDocument,
  Legacy004ViewerDocument,
  type Legacy004InboxSubscription,
  type Legacy004MessageFragment,
  type Legacy004RecentQuery,
  type Legacy004ThreadFragment,
} from './generated/graphql.js';
import { CLOSE, LegacySocket, refuse, type Admission, type Frame } from './legacy-socket.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';
import { MAX_FORM_FIELDS_BYTES, readUploadForm, uploadOf, type UploadForm } from './rest/upload-form.js';

/** Messages returned by GET /chat/messages/<uid>/: the newest this many (the document sets no limit). */
const HISTORY = 100;

/** A page of messages when the socket fills a gap (the API's largest page). */
const GAP_PAGE = 100;

/** Pages read back at most to fill one gap; a longer one is delivered from its newest 1,000. */
const GAP_PAGES = 10;


const UPLOADED = 'File uploaded and chat created successfully';
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

/** The attachment legacy 004 shows (it knew one file per message): the first. */
function fileOf(m: Legacy004MessageFragment) {
  const file = m.attachments[0];
  return file
    ? { attached_file_size: legacyFileSize(file.size), attached_file: file.signedUrl, attached_file_name: file.name }
    : { attached_file_size: legacyFileSize(0), attached_file: null, attached_file_name: null };
}

/** The legacy message shape; sender/receiver from the thread's two members. */
function legacyMessage(m: Legacy004MessageFragment, thread: Legacy004ThreadFragment) {
  const sender = thread.members.find((x) => x.user.id === m.author?.id);
  const receiver = thread.members.find((x) => x.user.id !== m.author?.id);
  const file = fileOf(m);
  return {
    id: m.id,
    sender: person(sender?.user),
    receiver: person(receiver?.user),
    attached_file_size: file.attached_file_size,
    message: m.body,
    updated: microTimestamp(m.editedAt ?? m.createdAt),
    created: microTimestamp(m.createdAt),
    seen: (receiver?.lastReadSeq ?? 0) >= m.seq,
    deleted: m.deleted,
    attached_file: file.attached_file,
    attached_file_name: file.attached_file_name,
    thread: thread.id,
  };
}

/** What the receiver's socket gets for a message: `re_message`, or `re_message_file` when it carries a file. */
function liveMessage(m: Legacy004MessageFragment, receiverId: string) {
  const common = { sender_id: m.author?.id ?? null, receiver_id: receiverId, timestamp: microOffsetTimestamp(m.createdAt), created_msg_id: m.id };
  if (m.attachments.length === 0) return { message_body: m.body, ...common, action: 're_message' };
  const file = fileOf(m);
  return {
    message_body: m.body,
    attached_file_name: file.attached_file_name,
    attached_file_size: file.attached_file_size,
    attached_file_url: file.attached_file,
    ...common,
    action: 're_message_file',
  };
}

/** The legacy field a product input path names, for error messages. */
function legacyField(path: readonly string[]): string {
  if (path.includes('files')) return 'attached_file';
  if (path.includes('body')) return 'message';
  return path.at(-1) ?? 'request';
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
  constructor(private readonly logger: Logger) {}

  mount(router: Router): void {
    router.on('GET', '/chat/messages/:uid', (req) => this.messages(req));
    router.on('GET', '/chat/get-user-threads', (req) => this.threads(req));
    router.on('POST', '/chat/chat-attachment', (req) => this.attachment(req), { rawBody: true });
  }

  /** The viewer's workspace: the first one they joined (legacy 004 knew no workspaces). */
  private async workspaceOf(executor: Executor, credential: Credential): Promise<{ userId: string; workspaceId: string } | { error: LegacyResponse }> {
    const me = await executor.run(Legacy004ViewerDocument, {}, credential);
    const user = me.data?.me;
    if (!user) return { error: { status: 401, body: failure(firstError(me)?.message ?? 'Authentication credentials were not provided.') } };
    const workspaceId = user.memberships[0]?.workspace.id;
    if (!workspaceId) return { error: { status: 404, body: failure(NO_RECEIVER) } };
    return { userId: user.id, workspaceId };
  }

  async messages(req: LegacyRequest): Promise<LegacyResponse> {
    const credential = bearer(req);
    const who = await this.workspaceOf(req.executor, credential);
    if ('error' in who) return who.error;
    const opened = await req.executor.run(Legacy004OpenThreadDocument, { workspaceId: who.workspaceId, userId: req.params.uid! }, credential);
    const thread = opened.data?.openDirectThread;
    if (thread?.__typename !== 'Thread') return { status: 404, body: failure(NO_RECEIVER) };
    const history = await req.executor.run(Legacy004MessagesDocument, { id: thread.id, last: HISTORY }, credential);
    const conversation = history.data?.conversation;
    if (!conversation) return { status: 404, body: failure(NO_RECEIVER) };
    const messages = conversation.messages.nodes.map((m) => legacyMessage(m, conversation));
    return { status: 200, body: success({ messages }, 'Messages retreived successfully') };
  }

  async threads(req: LegacyRequest): Promise<LegacyResponse> {
    const credential = bearer(req);
    const result = await req.executor.run(Legacy004ThreadsDocument, { first: 100 }, credential);
    if (!result.data) return { status: 401, body: failure(firstError(result)?.message ?? 'Authentication credentials were not provided.') };
    const threads = result.data.myConversations.nodes.flatMap((node) => {
      if (node.__typename !== 'Thread') return [];
      const [one, two] = node.members;
      return [{ id: node.id, user_one: person(one?.user), user_two: person(two?.user), craeted: microTimestamp(node.createdAt) }];
    });
    return { status: 200, body: success(threads) };
  }

  /**
   * POST /chat/chat-attachment/: multipart `receiver`, `message`, then `attached_file` (the
   * fields first, as the document lists them). The file streams into sendAttachment in the
   * receiver's thread; any refusal stores nothing. Answers once the whole body is read, except
   * refusals the headers decide (no token, not multipart, too long), which leave it unread.
   */
  async attachment(req: LegacyRequest): Promise<LegacyResponse> {
    const credential = bearer(req);
    const who = await this.workspaceOf(req.executor, credential);
    if ('error' in who) return who.error;
    if (!/^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '')) {
      return { status: 400, body: failure('Send a multipart/form-data body with receiver, message and attached_file.') };
    }
    const limits = await req.executor.run(Legacy004UploadLimitsDocument, {}, credential);
    const maxBytes = limits.data?.uploadLimits.maxFileBytes;
    if (!maxBytes) throw new Error(`uploadLimits: ${firstError(limits)?.message ?? 'no answer'}`);
    const tooLarge = { status: 413, body: failure(`attached_file is larger than the ${legacyFileSize(maxBytes)} limit.`) };
    // A body larger than the largest file and its fields cannot be valid: refused unread.
    if (Number(req.headers['content-length'] ?? 0) > maxBytes + MAX_FORM_FIELDS_BYTES) return tooLarge;

    const form = await readUploadForm(req.raw, 'attached_file', maxBytes);
    try {
      return await this.sendFile(req.executor, form, who, credential, tooLarge);
    } finally {
      // Whatever was not read (refused before the file was read, stopped at a limit, or a
      // failure) is read and dropped, so that the request ends.
      form.file?.stream.resume();
    }
  }

  private async sendFile(
    executor: Executor,
    form: UploadForm,
    who: { workspaceId: string },
    credential: Credential,
    tooLarge: LegacyResponse,
  ): Promise<LegacyResponse> {
    const refuse = async (status: number, message: string): Promise<LegacyResponse> => {
      form.file?.stream.resume();
      await form.finished;
      return { status, body: failure(message) };
    };
    if (!form.file) {
      if (await form.finished) return refuse(400, 'The body is not a well-formed multipart form.');
      if (form.fields.receiver === undefined) return refuse(400, 'receiver is required.');
      return refuse(400, 'attached_file is required.');
    }
    const { receiver, message } = form.fields;
    if (receiver === undefined || message === undefined) {
      return refuse(400, 'The fields receiver and message must come before attached_file.');
    }
    const opened = await executor.run(Legacy004OpenThreadDocument, { workspaceId: who.workspaceId, userId: receiver }, credential);
    const thread = opened.data?.openDirectThread;
    if (thread?.__typename !== 'Thread') return refuse(404, NO_RECEIVER);

    const file = form.file;
    const sent = await executor.run(
      Legacy004SendFileDocument,
      { input: { conversationId: thread.id, body: message, files: [uploadOf(file)] } },
      credential,
    );
    file.stream.resume();
    const broken = await form.finished;
    const out = sent.data?.sendAttachment;
    if (out?.__typename === 'Message') {
      return { status: 201, body: success({ message: legacyMessage(out, thread) }, UPLOADED) };
    }
    // busboy marks a file it stopped at its limit (one byte over ours).
    if (file.stream.truncated) return tooLarge;
    if (broken) return { status: 400, body: failure(`The upload did not arrive whole (${broken.message}).`) };
    if (!out) throw new Error(`sendAttachment: ${firstError(sent)?.message ?? 'no answer'}`);
    if (out.__typename === 'ValidationError') {
      const issue = out.issues[0];
      return { status: 400, body: failure(issue ? `${legacyField(issue.path)} ${issue.message}` : out.message) };
    }
    if (out.__typename === 'NotFoundError') return { status: 404, body: failure(NO_RECEIVER) };
    if (out.__typename === 'UnauthenticatedError') return { status: 401, body: failure(out.message) };
    if (out.__typename === 'ForbiddenError') return { status: 403, body: failure(out.message) };
    return { status: 400, body: failure(out.message) };
  }

  /**
   * /ws/chat/room/?token=: the user's inbox followed (live), then served; a bad token is closed
   * with 4401 right after the handshake. `executor` is the socket's client's: it runs everything
   * the socket does.
   */
  async admit(req: IncomingMessage, executor: Executor): Promise<Admission> {
    const url = new URL(req.url ?? '/', 'http://legacy');
    const credential = bearer({ headers: req.headers, query: url.searchParams });
    const live = await this.follow(executor, credential);
    if (live === 'refused') return refuse(CLOSE.unauthorized, 'Invalid or missing token');
    return {
      abandon: () => live.stream.return?.(),
      serve: (ws) => this.serve(new LegacySocket(ws, this.logger, (message) => ({ action: 'error', message })), executor, live, credential),
    };
  }

  /** Subscribes the user's inbox and waits for INBOX_READY: from then on nothing is missed. */
  private async follow(executor: Executor, credential: Credential): Promise<Live | 'refused'> {
    const who = await this.workspaceOf(executor, credential);
    if ('error' in who) return 'refused';
    const stream = await executor.subscribe(Legacy004InboxDocument, {}, credential);
    if (!(Symbol.asyncIterator in stream)) throw new Error(`inboxEvents: ${firstError(stream)?.message ?? 'refused'}`);
    try {
      const first = await stream.next();
      const ready = first.done ? null : first.value.data?.inboxEvents;
      if (ready?.type !== 'INBOX_READY') throw new Error(`inboxEvents began with ${JSON.stringify(first.value)}`);
      const known = await executor.run(Legacy004ThreadsDocument, { first: 100 }, credential);
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
  private serve(socket: LegacySocket, executor: Executor, live: Live, credential: Credential): void {
    const send = (payload: Frame) => socket.send(payload);
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
        const result: ExecutionResult<Legacy004RecentQuery> = await executor.run(Legacy004RecentDocument, { id: conversationId, last: GAP_PAGE, before }, credential);
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
        // Messages written before the inbox followed the conversation came on no live event; the
        // inbox counts them as unread: read them.
        const conversation = followed.get(id) ?? { thread: null, seq: null };
        followed.set(id, conversation);
        await fill(id, conversation, Math.max(conversation.seq ?? 0, event.lastSeq - (event.unreadCount ?? 0)));
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

    socket.follow(
      live.stream,
      async (result) => {
        const event = result.data?.inboxEvents;
        if (event) await handle(event);
      },
      'messages',
    );
    socket.listen((frame) => this.frame(frame, executor, live, credential, socket));
  }

  private async frame(frame: Frame, executor: Executor, live: Live, credential: Credential, socket: LegacySocket): Promise<void> {
    const msg = frame as { action?: unknown; message_body?: unknown; receiver_id?: unknown; chat_id?: unknown };
    const send = (payload: Frame) => socket.send(payload);
    if (msg.action === 'chat_message') {
      if (typeof msg.receiver_id !== 'string' || typeof msg.message_body !== 'string') {
        return send({ action: 'error', message: 'receiver_id and message_body are required' });
      }
      const opened = await executor.run(Legacy004OpenThreadDocument, { workspaceId: live.workspaceId, userId: msg.receiver_id }, credential);
      const thread = opened.data?.openDirectThread;
      if (thread?.__typename !== 'Thread') return send({ action: 'error', message: NO_RECEIVER });
      const sent = await executor.run(Legacy004SendDocument, { input: { conversationId: thread.id, body: msg.message_body } }, credential);
      const out = sent.data?.sendMessage;
      if (out?.__typename !== 'Message') {
        return send({ action: 'error', message: out && 'message' in out ? out.message : (firstError(sent)?.message ?? 'The message was not sent') });
      }
      return;
    }
    if (msg.action === 'chat_message_file') {
      // The message and its file were stored by POST /chat/chat-attachment/; this announces it.
      // The receiver gets it with the body stored then (message_body here is not used).
      if (typeof msg.chat_id !== 'string' && typeof msg.chat_id !== 'number') return send({ action: 'error', message: 'chat_id is required' });
      const announced = await executor.run(Legacy004AnnounceDocument, { id: String(msg.chat_id) }, credential);
      const out = announced.data?.announceMessage;
      if (out?.__typename !== 'Message') {
        return send({ action: 'error', message: out && 'message' in out ? out.message : (firstError(announced)?.message ?? 'The message was not announced') });
      }
      return;
    }
    return send({ action: 'error', message: `Unknown action: ${String(msg.action)}` });
  }
}
