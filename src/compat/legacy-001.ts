/**
 * Legacy 001 (Chat App): agents and clients of the legacy workspace, a client's threads of a
 * `Thread_type`, message and thread lists, and a live chat per thread over a raw WebSocket.
 * Usernames and passwords are product accounts (usernames as emails, like legacy 003); calls
 * with no credential of their own run as the shim's API key, and the socket, which knows its user
 * only by the id in its path, writes and claims on that user's behalf (asUserId). The document's
 * two extras map onto the support desk: an agent's live chat holds a claim on the thread, so a
 * second agent's replies are refused while it lasts; an agent's message list puts the threads
 * awaiting an answer first, most urgent first. Every call is a GraphQL operation run through the
 * executor; docs/legacy-mapping.md lists them with the choices made.
 */
import { isUuid } from '../ids.js';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Credential } from '../graphql/context.js';
import type { LegacyCredentials } from './credentials.js';
import { firstError, type Executor } from './executor.js';
import { microTimestamp } from './formats.js';
import {
  Legacy001AgentInboxDocument,
  Legacy001ClaimDocument,
  Legacy001ClientThreadDocument,
  Legacy001CreateUserDocument,
  Legacy001EventsDocument,
  Legacy001MembersDocument,
  Legacy001ReleaseDocument,
  Legacy001RemoveUserDocument,
  Legacy001SendDocument,
  Legacy001SendThreadMessageDocument,
  Legacy001SocketThreadDocument,
  Legacy001ThreadsDocument,
  Legacy001ViewerDocument,
  type Legacy001MessageFragment,
  type Legacy001ThreadFragment,
  type Role,
} from './generated/graphql.js';
import { legacyAccount } from './legacy-accounts.js';
import { CLOSE, LegacySocket, refuse, type Admission } from './legacy-socket.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';

/** Messages per thread in a client's list. */
const CLIENT_HISTORY = 100;
/** Threads, and messages per thread, in an agent's list and in thread-list. */
const AGENT_THREADS = 50;
const AGENT_HISTORY = 20;

const notFound: LegacyResponse = { status: 404, body: { detail: 'Not found.' } };
const badLogin: LegacyResponse = { status: 401, body: { detail: 'Invalid username/password.' } };
const forbidden: LegacyResponse = { status: 403, body: { detail: 'You do not have permission to perform this action.' } };

/** The socket paths: Django Channels' `ws/chat-app/<thread>/<user>/`, and the bare path the document shows. */
export const LEGACY_001_SOCKET = /^\/(?:ws\/)?chat-app\/([^/]+)\/([^/]+)\/?$/;


/** A form or JSON field, else a query parameter (list calls are documented with form data). */
function field(req: LegacyRequest, name: string): string | undefined {
  const v = req.body[name];
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (typeof v === 'number') return String(v);
  const q = req.query.get(name);
  return q && q.trim() ? q.trim() : undefined;
}

/** Django REST framework's answer for missing fields. */
function missing(...names: string[]): LegacyResponse {
  return { status: 400, body: Object.fromEntries(names.map((n) => [n, ['This field is required.']])) };
}

function legacyRole(role: Role): 'agent' | 'client' | 'admin' {
  return role === 'AGENT' ? 'agent' : role === 'CLIENT' ? 'client' : 'admin';
}

/** One message as every 001 answer and the socket show it. */
function legacyMessage(m: Legacy001MessageFragment, threadType: string | null | undefined) {
  return {
    id: m.id,
    thread: m.conversationId,
    Thread_type: threadType ?? null,
    sender: m.author?.id ?? null,
    sender_username: m.author?.displayName ?? null,
    Message_body: m.body,
    timestamp: microTimestamp(m.createdAt),
  };
}

function threadMessages(thread: Legacy001ThreadFragment) {
  return thread.messages.nodes.map((m) => legacyMessage(m, thread.threadType));
}

export class Legacy001 {
  constructor(
    private readonly credentials: LegacyCredentials,
    private readonly logger: Logger,
  ) {}

  mount(router: Router): void {
    router.on('POST', '/chat-app/user', (req) => this.createUser(req));
    router.on('DELETE', '/chat-app/user/:pk', (req) => this.deleteUser(req));
    router.on('POST', '/chat-app/send-message', (req) => this.sendMessage(req));
    for (const method of ['GET', 'POST']) {
      router.on(method, '/chat-app/message-list', (req) => this.messageList(req));
      router.on(method, '/chat-app/thread-list', (req) => this.threadList(req));
    }
  }

  /** A legacy username and password, signed in; or the legacy answer to give instead. */
  private async signIn(req: LegacyRequest): Promise<{ credential: Credential; userId: string } | LegacyResponse> {
    const username = field(req, 'Username');
    const password = typeof req.body.Password === 'string' ? req.body.Password : (req.query.get('Password') ?? undefined);
    if (!username || !password) return missing(...(username ? [] : ['Username']), ...(password ? [] : ['Password']));
    return (await this.credentials.password(req.executor, username, password)) ?? badLogin;
  }

  /** POST chat-app/user/ (form: Username, Password, role). */
  async createUser(req: LegacyRequest): Promise<LegacyResponse> {
    const username = field(req, 'Username');
    const password = typeof req.body.Password === 'string' && req.body.Password ? req.body.Password : undefined;
    const roleName = field(req, 'role')?.toLowerCase();
    const absent = [...(username ? [] : ['Username']), ...(password ? [] : ['Password']), ...(roleName ? [] : ['role'])];
    if (absent.length) return missing(...absent);
    if (roleName !== 'agent' && roleName !== 'client') return { status: 400, body: { role: [`"${field(req, 'role')}" is not a valid choice.`] } };
    const workspaceId = await this.credentials.workspaceId();
    const result = await req.executor.run(
      Legacy001CreateUserDocument,
      {
        input: {
          workspaceId,
          ...legacyAccount(username!),
          password: password!,
          displayName: username!.slice(0, 100),
          role: roleName === 'agent' ? 'AGENT' : 'CLIENT',
        },
      },
      this.credentials.service(),
    );
    const out = result.data?.createWorkspaceUser;
    if (out?.__typename === 'Membership') return { status: 201, body: { id: out.user.id, Username: username, role: legacyRole(out.role) } };
    if (out?.__typename === 'ConflictError') return { status: 400, body: { Username: ['A user with that username already exists.'] } };
    if (out?.__typename === 'ValidationError') {
      const errors: Record<string, string[]> = {};
      for (const issue of out.issues) {
        const name = issue.path.includes('password') ? 'Password' : 'Username';
        (errors[name] ??= []).push(issue.message);
      }
      return { status: 400, body: errors };
    }
    throw new Error(`createWorkspaceUser: ${JSON.stringify(out ?? result.errors)}`);
  }

  /**
   * DELETE chat-app/user/<pk>/: the user leaves the legacy workspace and its conversations
   * (removeWorkspaceMember); their account stays. Only agents and clients: the legacy call has
   * no credential, so it never removes an admin.
   */
  async deleteUser(req: LegacyRequest): Promise<LegacyResponse> {
    const pk = req.params.pk!;
    if (!isUuid(pk)) return notFound;
    const workspaceId = await this.credentials.workspaceId();
    const service = this.credentials.service();
    const members = await req.executor.run(Legacy001MembersDocument, { workspaceId }, service);
    const member = members.data?.workspace.members.find((m) => m.user.id === pk.toLowerCase());
    if (!member) return notFound;
    if (member.role === 'ADMIN') return forbidden;
    const removed = await req.executor.run(Legacy001RemoveUserDocument, { workspaceId, userId: pk }, service);
    const out = removed.data?.removeWorkspaceMember;
    if (out?.__typename === 'Workspace') return { status: 204, body: null };
    if (out?.__typename === 'NotFoundError') return notFound;
    return { status: 400, body: { detail: out && 'message' in out ? out.message : (firstError(removed)?.message ?? 'The user was not deleted.') } };
  }

  /** POST chat-app/send-message/ (form: Username, Password, Message_body, Thread_type): a client's message, opening its thread. */
  async sendMessage(req: LegacyRequest): Promise<LegacyResponse> {
    const body = typeof req.body.Message_body === 'string' ? req.body.Message_body : undefined;
    const threadType = field(req, 'Thread_type');
    const who = await this.signIn(req);
    if ('status' in who) return who;
    if (!body?.trim() || !threadType) return missing(...(body?.trim() ? [] : ['Message_body']), ...(threadType ? [] : ['Thread_type']));
    const workspaceId = await this.credentials.workspaceId();
    const result = await req.executor.run(Legacy001SendThreadMessageDocument, { input: { workspaceId, threadType, body } }, who.credential);
    const out = result.data?.sendThreadMessage;
    if (out?.__typename === 'ThreadMessageSent') return { status: 201, body: legacyMessage(out.sentMessage, out.thread.threadType) };
    if (!out || !('code' in out)) throw new Error(`sendThreadMessage: ${JSON.stringify(result.errors)}`);
    if (out.code === 'FORBIDDEN') return { status: 403, body: { detail: out.message } };
    if (out.code === 'NOT_FOUND') return forbidden;
    return { status: 400, body: { detail: out.message } };
  }

  /**
   * message-list (form: Username, Password[, Thread_type]). A client gets the messages of their
   * thread of that type (or of all their threads without one). An agent gets the workspace's
   * agent/client threads' messages, the threads awaiting an answer first and the most urgent of
   * those first (supportQueue), each message marked with its thread's urgency.
   */
  async messageList(req: LegacyRequest): Promise<LegacyResponse> {
    const who = await this.signIn(req);
    if ('status' in who) return who;
    const workspaceId = await this.credentials.workspaceId();
    const threadType = field(req, 'Thread_type');
    const me = await req.executor.run(Legacy001ViewerDocument, {}, who.credential);
    const role = me.data?.me?.memberships.find((m) => m.workspace.id === workspaceId)?.role;
    if (!role) return forbidden;
    if (role === 'CLIENT') {
      if (threadType) {
        const result = await req.executor.run(Legacy001ClientThreadDocument, { workspaceId, threadType, last: CLIENT_HISTORY }, who.credential);
        const thread = result.data?.typedThread;
        return { status: 200, body: thread ? threadMessages(thread) : [] };
      }
      const result = await req.executor.run(Legacy001ThreadsDocument, { workspaceId, first: AGENT_THREADS, last: CLIENT_HISTORY }, who.credential);
      return { status: 200, body: (result.data?.threads.nodes ?? []).flatMap(threadMessages) };
    }
    const result = await req.executor.run(
      Legacy001AgentInboxDocument,
      { workspaceId, threadType: threadType ?? null, first: AGENT_THREADS, last: AGENT_HISTORY },
      who.credential,
    );
    if (!result.data) throw new Error(`agent inbox: ${JSON.stringify(result.errors)}`);
    const wanted = threadType?.toLowerCase();
    const seen = new Set<string>();
    const out: Array<ReturnType<typeof legacyMessage> & { urgent: boolean; urgency: number; urgency_reasons: string[] }> = [];
    for (const entry of result.data.supportQueue) {
      const thread = entry.conversation;
      if (thread.__typename !== 'Thread' || !thread.threadType) continue;
      if (wanted && thread.threadType.toLowerCase() !== wanted) continue;
      seen.add(thread.id);
      const mark = { urgent: entry.urgency.urgent, urgency: entry.urgency.score, urgency_reasons: entry.urgency.reasons };
      for (const m of threadMessages(thread)) out.push({ ...m, ...mark });
    }
    for (const thread of result.data.threads.nodes) {
      if (seen.has(thread.id)) continue;
      for (const m of threadMessages(thread)) out.push({ ...m, urgent: false, urgency: 0, urgency_reasons: [] });
    }
    return { status: 200, body: out };
  }

  /** thread-list (form: Agent_id, Client_id): the threads between them, with their messages. */
  async threadList(req: LegacyRequest): Promise<LegacyResponse> {
    const agentId = field(req, 'Agent_id');
    const clientId = field(req, 'Client_id');
    if (!agentId && !clientId) return missing('Agent_id', 'Client_id');
    if ((agentId && !isUuid(agentId)) || (clientId && !isUuid(clientId))) return notFound;
    const workspaceId = await this.credentials.workspaceId();
    const result = await req.executor.run(
      Legacy001ThreadsDocument,
      { workspaceId, agentId: agentId ?? null, clientId: clientId ?? null, first: AGENT_THREADS, last: AGENT_HISTORY },
      this.credentials.service(),
    );
    if (!result.data) return notFound;
    const threads = result.data.threads.nodes.map((t) => {
      const client = t.members.find((m) => m.role === 'OWNER')?.user.id ?? null;
      return {
        id: t.id,
        Thread_type: t.threadType,
        client,
        agents: t.members.map((m) => m.user.id).filter((id) => id !== client),
        created_at: microTimestamp(t.createdAt),
        updated_at: microTimestamp(t.lastMessageAt ?? t.createdAt),
        messages: threadMessages(t),
      };
    });
    return { status: 200, body: threads };
  }

  /**
   * The live chat of one thread for one user (`ws/chat-app/<thread_id>/<user_id>/`). In:
   * `{"message": "..."}` (or `Message_body`). Out: every message of the thread as
   * `{"type": "chat_message", "message": ..., ...the message-list shape}`, the sender's own
   * included; `{"type": "error", "error": ...}` for what cannot be done, the socket staying open.
   * An agent's connection claims the thread and keeps the claim until it closes. `executor` is
   * the socket's client's: it runs everything the socket does.
   */
  async admit(request: IncomingMessage, executor: Executor): Promise<Admission> {
    const url = new URL(request.url ?? '/', 'http://legacy');
    const [, rawThread, rawUser] = LEGACY_001_SOCKET.exec(url.pathname) ?? [];
    const threadId = decodeURIComponent(rawThread ?? '').toLowerCase();
    const userId = decodeURIComponent(rawUser ?? '').toLowerCase();
    if (!isUuid(threadId) || !isUuid(userId)) return refuse(CLOSE.notFound, 'Unknown thread or user');
    const service = this.credentials.service();
    const found = await executor.run(Legacy001SocketThreadDocument, { id: threadId }, service);
    const thread = found.data?.conversation;
    if (thread?.__typename !== 'Thread' || thread.direct || !thread.threadType) return refuse(CLOSE.notFound, 'Unknown thread');
    const threadType = thread.threadType;

    // Staff hold a claim while connected; the claim's answer also says who the user is here.
    let socket: LegacySocket | null = null;
    // What is told before the socket is open (a refused claim) is sent once it is.
    const untold: Record<string, unknown>[] = [];
    const tell = (frame: Record<string, unknown>) => (socket ? socket.send(frame) : untold.push(frame));
    let claimed = false;
    let ended = false;
    let renewal: NodeJS.Timeout | null = null;
    const claim = async (): Promise<'held' | 'refused' | 'not-staff' | 'unknown'> => {
      const result = await executor.run(Legacy001ClaimDocument, { conversationId: threadId, asUserId: userId }, service);
      const out = result.data?.claimConversation;
      if (out?.__typename === 'ConversationClaim') {
        claimed = true;
        if (renewal) clearTimeout(renewal);
        // Renew at half the lease, for as long as the agent stays connected.
        const wait = Math.max(1000, (new Date(out.expiresAt).getTime() - Date.now()) / 2);
        if (!ended) {
          renewal = setTimeout(() => void claim().catch((err: unknown) => this.logger.warn({ err }, 'legacy 001 claim renewal failed')), wait);
          renewal.unref();
        }
        return 'held';
      }
      if (out?.__typename === 'ClaimHeldError') {
        tell({ type: 'error', code: 'CLAIMED', error: out.message, holder_id: out.holderId, holder_username: out.holderName, expires_at: out.expiresAt });
        return 'refused';
      }
      if (out?.__typename === 'NotFoundError' && out.entity === 'User') return 'unknown';
      return 'not-staff';
    };
    const end = () => {
      ended = true;
      if (renewal) clearTimeout(renewal);
      if (claimed) {
        executor
          .run(Legacy001ReleaseDocument, { conversationId: threadId, asUserId: userId }, service)
          .catch((err: unknown) => this.logger.warn({ err }, 'legacy 001 claim release failed'));
      }
    };
    const standing = await claim();
    const member = thread.members.some((m) => m.user.id === userId);
    const staff = standing === 'held' || standing === 'refused';
    if (standing === 'unknown' || (!staff && !member)) {
      end();
      return refuse(CLOSE.forbidden, 'This user may not chat in this thread');
    }

    // From the thread's last message at connect: what is sent while the subscription sets up is replayed, not lost.
    const stream = await executor.subscribe(Legacy001EventsDocument, { conversationId: threadId, after: thread.lastSeq }, service);
    if (!(Symbol.asyncIterator in stream)) {
      end();
      return refuse(CLOSE.tryAgain, 'Could not follow the thread; reconnect');
    }
    const abandon = () => {
      end();
      return stream.return?.();
    };
    return {
      abandon,
      serve: (ws) => {
        const s = (socket = new LegacySocket(ws, this.logger, (error) => ({ type: 'error', error })));
        s.onClose(end);
        for (const frame of untold.splice(0)) s.send(frame);
        s.follow(
          stream,
          (result) => {
            const event = result.data?.conversationEvents;
            if (event?.type === 'MESSAGE_ADDED' && event.message) {
              s.send({ type: 'chat_message', message: event.message.body, ...legacyMessage(event.message, threadType) });
            }
          },
          'thread',
        );
        s.listen(async (frame) => {
          const { type, message, Message_body } = frame as { type?: unknown; message?: unknown; Message_body?: unknown };
          if (type !== undefined && type !== 'chat_message' && type !== 'message') return s.error(`Unknown message type: ${String(type)}`);
          const body = typeof message === 'string' ? message : typeof Message_body === 'string' ? Message_body : undefined;
          if (!body?.trim()) return s.error('message is required');
          if (staff && (await claim()) === 'refused') return;
          const sent = await executor.run(Legacy001SendDocument, { input: { conversationId: threadId, body, asUserId: userId } }, service);
          const out = sent.data?.sendMessage;
          if (out?.__typename !== 'Message') {
            s.send({ type: 'error', ...(out && 'code' in out ? { code: out.code, error: out.message } : { error: 'The message was not sent' }) });
          }
        });
      },
    };
  }
}
