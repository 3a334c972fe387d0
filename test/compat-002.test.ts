/**
 * Legacy 002 (Socket.IO) through the shim, with the client its users have (socket.io-client),
 * following the document's own examples: event names, reply events, payload fields and nesting.
 */
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from './gql/index.js';
import { collect, startTestApp } from './helpers/app.js';
import { workspace } from './helpers/fixtures.js';
import { startLegacyApp, type LegacyApp } from './helpers/legacy.js';
import { apiKey, product } from './helpers/support.js';

let L: LegacyApp;
let other: { workspaceId: string; apiKey: string };
const sockets: Socket[] = [];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n';
const ANSWER = 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n';

const RoomByKey = graphql(`
  query Compat002RoomByKey($workspaceId: ID!, $key: String!) {
    roomByKey(workspaceId: $workspaceId, key: $key) {
      id
      name
      roomType
    }
  }
`);

const Events = graphql(`
  subscription Compat002Events($conversationId: ID!) {
    conversationEvents(conversationId: $conversationId) {
      type
      message {
        body
        side
        author {
          displayName
          kind
        }
      }
    }
  }
`);

const Send = graphql(`
  mutation Compat002Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

const CallRooms = graphql(`
  query Compat002CallRooms($workspaceId: ID!) {
    rooms(workspaceId: $workspaceId, roomType: GROUP, first: 100) {
      nodes {
        name
        lastMessage {
          kind
          body
        }
      }
    }
  }
`);

/** A socket.io-client that keeps every event it receives, to be awaited in order. */
class Client {
  readonly socket: Socket;
  private readonly received = new Map<string, unknown[][]>();
  private readonly waiters: Array<() => void> = [];

  constructor(options: { auth?: Record<string, string>; transports?: string[] } = {}) {
    this.socket = io(L.t.url, { autoConnect: false, reconnection: false, transports: options.transports ?? ['websocket'], auth: options.auth ?? {} });
    sockets.push(this.socket);
    this.socket.onAny((event: string, ...args: unknown[]) => {
      const list = this.received.get(event) ?? [];
      list.push(args);
      this.received.set(event, list);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  async connect(): Promise<this> {
    const connected = new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    this.socket.connect();
    await connected;
    return this;
  }

  get id(): string {
    return this.socket.id!;
  }

  /** The next payload of `event` that matches, removed from what was received. */
  async next<T = Record<string, any>>(event: string, match: (data: any) => boolean = () => true, ms = 5000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const list = this.received.get(event) ?? [];
      const i = list.findIndex((args) => match(args[0]));
      if (i >= 0) return list.splice(i, 1)[0]![0] as T;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event} matching on ${this.socket.id}; got ${JSON.stringify([...this.received])}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** What was received of `event` and not yet taken. */
  pending(event: string): unknown[] {
    return (this.received.get(event) ?? []).map((args) => args[0]);
  }

  /** Emits and waits for the reply of that operation on `replyEvent`. */
  async ask<T = Record<string, any>>(event: string, payload: unknown, replyEvent: string): Promise<T> {
    this.socket.emit(event, payload);
    return this.next<T>(replyEvent, (d) => d?.operation === event);
  }
}

async function client(options?: ConstructorParameters<typeof Client>[0]): Promise<Client> {
  return new Client(options).connect();
}

beforeAll(async () => {
  L = await startLegacyApp();
  const ws = await workspace(L.t);
  other = { workspaceId: ws.id, apiKey: await apiKey(L.t, ws.id, ws.admin.token) };
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await L?.t.close();
});

describe('legacy 002: connection', () => {
  it('welcomes a client on my_response (and tells it its id on `me`), over polling upgraded to WebSocket too', async () => {
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      const c = await client({ transports });
      const welcome = await c.next('my_response', (d) => d.operation === 'connect');
      expect(welcome).toEqual({ status: 'success', operation: 'connect', data: { message: expect.any(String), sid: c.id } });
      expect(await c.next('me')).toBe(c.id);
      c.socket.disconnect();
    }
  });

  it('refuses a handshake with a wrong api_key with a legacy-style connect_error', async () => {
    const c = new Client({ auth: { workspace_id: L.workspaceId, api_key: 'ck_wrong' } });
    const error = await c.connect().then(
      () => null,
      (err: Error & { data?: unknown }) => err,
    );
    expect(error?.message).toBe('Invalid workspace_id or api_key');
    expect(error?.data).toEqual({ status: 'failure', operation: 'connect', data: 'Invalid workspace_id or api_key' });
  });
});

describe('legacy 002: rooms', () => {
  it('join, message_event and leave as in the document, with history, live delivery and the leave notice', async () => {
    const room = `your_room_id-${Date.now()}`;
    const a = await client();
    const b = await client();
    const joined = await a.ask('join', { room }, 'my_response');
    expect(joined).toEqual({ status: 'success', operation: 'join', data: { room_id: room, message: `Welcome to room ${room}`, messages: [] } });
    await b.ask('join', { room }, 'my_response');

    const sent = await a.ask(
      'message_event',
      { type: 'text', room_id: room, message_data: 'Hello, World!', side: 'left', author: 'John Doe', message_type: 'normal' },
      'my_response',
    );
    const expected = {
      _id: expect.any(String),
      type: 'text',
      room_id: room,
      message_data: 'Hello, World!',
      side: 'left',
      author: 'John Doe',
      message_type: 'normal',
      created_at: expect.stringMatching(ISO),
    };
    expect(sent).toEqual({ status: 'success', operation: 'message_event', data: expected });
    const delivered = await b.next('my_response', (d) => d.operation === 'message_event');
    expect(delivered).toEqual(sent);

    // A later joiner gets the history with its welcome.
    const c = await client();
    const late = await c.ask('join', { room }, 'my_response');
    expect(late.data.messages).toEqual([expected]);

    // The sender has its message once, as its reply: a round trip later, no copy has come.
    await a.ask('join', { room }, 'my_response');
    expect(a.pending('my_response').filter((d: any) => d.operation === 'message_event')).toEqual([]);

    const left = await a.ask('leave', { room }, 'my_response');
    expect(left).toEqual({ status: 'success', operation: 'leave', data: { room_id: room, message: `You have left room ${room}` } });
    const notice = await b.next('my_response', (d) => d.operation === 'leave');
    expect(notice).toEqual({ status: 'success', operation: 'leave', data: { room_id: room, message: `${a.id} has left the room`, sid: a.id } });

    await b.ask('message_event', { type: 'text', room_id: room, message_data: 'after you left', side: 'right', author: 'Jane' }, 'my_response');
    expect((await c.next('my_response', (d) => d.operation === 'message_event')).data).toMatchObject({ message_data: 'after you left', side: 'right', author: 'Jane' });
    await a.ask('leave', { room: 'anything' }, 'my_response');
    expect(a.pending('my_response').filter((d: any) => d.operation === 'message_event')).toEqual([]);
  });

  it('a message from a socket.io-client reaches a graphql-ws subscriber, and one sent over GraphQL reaches the socket', async () => {
    const room = `bridge-${Date.now()}`;
    const s = await client();
    await s.ask('join', { room }, 'my_response');
    const found = await L.t.exec(RoomByKey, { workspaceId: L.workspaceId, key: room }, { token: L.admin.token });
    expect(found.data?.roomByKey).toMatchObject({ name: room, roomType: 'GROUP' });
    const conversationId = found.data!.roomByKey!.id;

    const sub = collect(L.t.ws({ token: L.admin.token }), Events, { conversationId });
    // The subscription is live once an event published after it arrives: probe with messages until one does.
    let probe = 0;
    while (sub.results.length === 0) {
      await s.ask('message_event', { type: 'text', room_id: room, message_data: `probe ${++probe}`, author: 'Prober' }, 'my_response');
      await new Promise((r) => setTimeout(r, 50));
    }
    await s.ask('message_event', { type: 'text', room_id: room, message_data: 'from the legacy socket', side: 'left', author: 'John Doe' }, 'my_response');
    for (;;) {
      const last = sub.results.at(-1)?.data?.conversationEvents.message;
      if (last?.body === 'from the legacy socket') {
        expect(last).toEqual({ body: 'from the legacy socket', side: 'LEFT', author: { displayName: 'John Doe', kind: 'GUEST' } });
        break;
      }
      await sub.next(sub.results.length + 1);
    }
    sub.dispose();

    const sent = await L.t.exec(Send, { input: { conversationId, body: 'from GraphQL', side: 'RIGHT' } }, { token: L.admin.token });
    expect(sent.data?.sendMessage.__typename).toBe('Message');
    const got = await s.next('my_response', (d) => d.operation === 'message_event' && d.data.message_data === 'from GraphQL');
    expect(got.data).toMatchObject({ room_id: room, side: 'right', author: 'admin', type: 'text', message_type: 'normal' });
  });
});

describe('legacy 002: workspaces', () => {
  it('keeps rooms of the same name apart per workspace (handshake workspace_id + api_key, else LEGACY_API_KEY)', async () => {
    const room = `lobby-${Date.now()}`;
    const ours = await client();
    const theirs = await client({ auth: { workspace_id: other.workspaceId, api_key: other.apiKey } });
    await ours.ask('join', { room }, 'my_response');
    await theirs.ask('join', { room }, 'my_response');
    await theirs.ask('message_event', { type: 'text', room_id: room, message_data: 'theirs only', author: 'John Doe' }, 'my_response');
    await ours.ask('message_event', { type: 'text', room_id: room, message_data: 'ours only', author: 'John Doe' }, 'my_response');
    const late = await client({ auth: { workspace_id: other.workspaceId, api_key: other.apiKey } });
    expect((await late.ask('join', { room }, 'my_response')).data.messages.map((m: any) => m.message_data)).toEqual(['theirs only']);
    expect(ours.pending('my_response').filter((d: any) => d.operation === 'message_event')).toEqual([]);
    const found = await L.t.exec(RoomByKey, { workspaceId: L.workspaceId, key: room }, { token: L.admin.token });
    expect(found.data?.roomByKey?.name).toBe(room);
  });
});

describe('legacy 002: calls', () => {
  it('signals a simple-peer call between two sockets by their ids: callUser, answerCall → callAccepted, endCall → callEnded', async () => {
    const a = await client();
    const b = await client();
    a.socket.emit('callUser', { signalData: { type: 'offer', sdp: OFFER }, from: a.id, name: 'Alice', userToCall: b.id });
    const ringing = await b.next('callUser');
    expect(ringing).toEqual({ signal: { type: 'offer', sdp: OFFER }, from: a.id, name: 'Alice' });

    // A trickled candidate travels the way the old server relayed every signal.
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host', sdpMid: '0', sdpMLineIndex: 0 };
    a.socket.emit('callUser', { signalData: { type: 'candidate', candidate }, from: a.id, name: 'Alice', userToCall: b.id });
    expect(await b.next('callUser')).toEqual({ signal: { type: 'candidate', candidate: { ...candidate, usernameFragment: null } }, from: a.id, name: 'Alice' });

    b.socket.emit('answerCall', { signal: { type: 'answer', sdp: ANSWER }, to: ringing.from });
    expect(await a.next('callAccepted')).toEqual({ type: 'answer', sdp: ANSWER });

    a.socket.emit('endCall');
    await a.next('callEnded');
    await b.next('callEnded');
  });

  it('calls by username with SDP strings (the document’s shapes), and a disconnect ends the call for the other side', async () => {
    const callee = await client({ auth: { username: `callee_username-${Date.now()}` } });
    const caller = await client();
    const calleeName = (callee.socket.auth as Record<string, string>).username!;
    // The callee's socket takes calls under its username from the handshake on.
    caller.socket.emit('callUser', { signalData: OFFER, from: `caller_username-${Date.now()}`, name: 'caller_name', userToCall: calleeName });
    const ringing = await callee.next('callUser');
    expect(ringing).toEqual({ signal: OFFER, from: expect.stringMatching(/^caller_username-/), name: 'caller_name' });
    callee.socket.emit('answerCall', { signal: ANSWER, to: ringing.from });
    expect(await caller.next('callAccepted')).toBe(ANSWER);

    caller.socket.disconnect();
    await callee.next('callEnded');
  });

  it('answers bad call input on my_response and keeps the socket', async () => {
    const a = await client();
    const bad = await a.ask('callUser', { signalData: 'your_signal_data', from: 'caller_username', name: 'caller_name', userToCall: 'callee_username' }, 'my_response');
    expect(bad).toMatchObject({ status: 'failure', operation: 'callUser', data: expect.stringContaining('signalData must be a WebRTC signal') });
    expect(await a.ask('answerCall', { signal: { type: 'answer', sdp: ANSWER }, to: 'nobody' }, 'my_response')).toEqual({
      status: 'failure',
      operation: 'answerCall',
      data: 'There is no incoming call to answer',
    });
    expect(await a.ask('endCall', undefined, 'my_response')).toEqual({ status: 'failure', operation: 'endCall', data: 'There is no call to end' });
    expect(a.socket.connected).toBe(true);
  });
});

describe('legacy 002: support tickets', () => {
  it('topics, line managers, tickets and ticket messages as in the document', async () => {
    const s = await client();
    const staff = await client();
    const creds = { workspace_id: L.workspaceId, api_key: L.apiKey };
    const createdAt = new Date().toISOString();

    const topic = await s.ask('create_topic', { name: 'Name of Topic', ...creds, created_at: createdAt }, 'setting_response');
    expect(topic).toEqual({
      status: 'success',
      operation: 'create_topic',
      data: { _id: expect.any(String), name: 'Name of Topic', workspace_id: L.workspaceId, created_at: expect.stringMatching(ISO) },
    });
    const topics = await s.ask('get_all_topics', creds, 'setting_response');
    expect(topics).toEqual({ status: 'success', operation: 'get_all_topics', data: [topic.data] });

    const manager = await s.ask(
      'create_line_manager',
      { user_id: L.admin.id, positions_in_a_line: '1', average_serving_time: 300, ticket_count: 0, ...creds, created_at: createdAt },
      'setting_response',
    );
    expect(manager).toEqual({
      status: 'success',
      operation: 'create_line_manager',
      data: {
        _id: expect.any(String),
        user_id: L.admin.id,
        positions_in_a_line: 1,
        average_serving_time: 300,
        ticket_count: 0,
        capacity: expect.any(Number),
        workspace_id: L.workspaceId,
        created_at: expect.stringMatching(ISO),
      },
    });
    const managers = await s.ask('get_all_line_managers', creds, 'setting_response');
    expect(managers.data).toEqual([manager.data]);

    const { slug } = await product(L.t, L.admin.token, L.workspaceId);
    const created = await s.ask('create_ticket', { user_id: 'customer-42', product: slug, ...creds, created_at: createdAt }, 'ticket_response');
    expect(created).toEqual({
      status: 'success',
      operation: 'create_ticket',
      data: expect.objectContaining({
        _id: expect.any(String),
        user_id: 'customer-42',
        product: slug,
        workspace_id: L.workspaceId,
        line_manager: L.admin.id,
        is_closed: false,
        created_at: expect.stringMatching(ISO),
      }),
    });
    const ticketId = created.data._id as string;
    const listed = await s.ask('get_tickets', { product: slug, ...creds }, 'ticket_response');
    expect(listed).toEqual({ status: 'success', operation: 'get_tickets', data: [created.data] });

    const first = await s.ask(
      'ticket_message_event',
      { ticket_id: ticketId, product: slug, message_data: 'My order is late', user_id: 'customer-42', reply_to: 'None', ...creds, created_at: createdAt },
      'ticket_message_response',
    );
    expect(first).toEqual({
      status: 'success',
      operation: 'ticket_message_event',
      data: {
        _id: expect.any(String),
        ticket_id: ticketId,
        product: slug,
        message_data: 'My order is late',
        user_id: 'customer-42',
        author: 'customer-42',
        reply_to: 'None',
        is_read: false,
        workspace_id: L.workspaceId,
        created_at: expect.stringMatching(ISO),
      },
    });

    // The line manager answers from another socket; the customer's socket hears it live.
    const history = await staff.ask('get_ticket_messages', { ticket_id: ticketId, product: slug, ...creds }, 'ticket_message_response');
    expect(history.data).toEqual([first.data]);
    const answer = await staff.ask(
      'ticket_message_event',
      { ticket_id: ticketId, product: slug, message_data: 'On its way', user_id: L.admin.id, reply_to: first.data._id, ...creds, created_at: createdAt },
      'ticket_message_response',
    );
    expect(answer.data).toMatchObject({ message_data: 'On its way', user_id: L.admin.id, author: L.admin.id, reply_to: first.data._id });
    const live = await s.next('ticket_message_response', (d) => d.data?._id === answer.data._id);
    expect(live).toEqual(answer);
    const both = await s.ask('get_ticket_messages', { ticket_id: ticketId, product: slug, ...creds }, 'ticket_message_response');
    expect(both.data.map((m: any) => [m.message_data, m.author, m.reply_to])).toEqual([
      ['My order is late', 'customer-42', 'None'],
      ['On its way', L.admin.id, first.data._id],
    ]);

    const closed = await s.ask('close_ticket', { ticket_id: ticketId, line_manager: L.admin.id, product: slug, ...creds }, 'ticket_response');
    expect(closed).toEqual({
      status: 'success',
      operation: 'close_ticket',
      data: expect.objectContaining({ _id: ticketId, is_closed: true, user_id: 'customer-42', closed_at: expect.stringMatching(ISO) }),
    });
  });
});

describe('legacy 002: bad input', () => {
  it('answers wrong credentials, unknown ids, malformed payloads and unknown events the legacy way, and keeps the socket and the server', async () => {
    const s = await client();
    const failure = (operation: string, data: unknown) => ({ status: 'failure', operation, data });

    expect(await s.ask('get_all_topics', { workspace_id: L.workspaceId, api_key: 'wrong' }, 'setting_response')).toEqual(
      failure('get_all_topics', 'Invalid workspace_id or api_key'),
    );
    expect(await s.ask('get_all_topics', { workspace_id: L.workspaceId, api_key: `${L.apiKey}x` }, 'setting_response')).toEqual(
      failure('get_all_topics', 'Invalid workspace_id or api_key'),
    );
    // Another workspace's key: not for this workspace, and nothing of this workspace through its own.
    expect(await s.ask('get_tickets', { workspace_id: L.workspaceId, api_key: other.apiKey }, 'ticket_response')).toEqual(
      failure('get_tickets', 'Invalid workspace_id or api_key'),
    );
    const { slug } = await product(L.t, L.admin.token, L.workspaceId);
    const mine = await s.ask('create_ticket', { user_id: 'someone', product: slug, workspace_id: L.workspaceId, api_key: L.apiKey }, 'ticket_response');
    expect(mine.status).toBe('success');
    expect(
      await s.ask('get_ticket_messages', { ticket_id: mine.data._id, workspace_id: other.workspaceId, api_key: other.apiKey }, 'ticket_message_response'),
    ).toEqual(failure('get_ticket_messages', 'Ticket not found'));
    expect(await s.ask('create_topic', { name: 'x' }, 'setting_response')).toEqual(failure('create_topic', 'workspace_id and api_key are required'));

    // Unknown ids.
    const creds = { workspace_id: L.workspaceId, api_key: L.apiKey };
    expect(await s.ask('message_event', { type: 'text', room_id: 'no-such-room', message_data: 'hi', author: 'John Doe' }, 'my_response')).toEqual(
      failure('message_event', 'Room no-such-room not found: join it first'),
    );
    expect(await s.ask('close_ticket', { ticket_id: '8a0c0d3e-1111-4222-8333-944455556666', ...creds }, 'ticket_response')).toEqual(
      failure('close_ticket', 'Ticket not found'),
    );
    expect(await s.ask('ticket_message_event', { ticket_id: 'nope', message_data: 'x', user_id: 'u', ...creds }, 'ticket_message_response')).toEqual(
      failure('ticket_message_event', 'Ticket not found'),
    );
    expect(await s.ask('create_ticket', { user_id: 'u', product: 'no-such-product', ...creds }, 'ticket_response')).toMatchObject(
      failure('create_ticket', expect.stringMatching(/product/i)),
    );

    // Malformed payloads.
    expect(await s.ask('join', '{not json', 'my_response')).toEqual(failure('join', 'Malformed payload: expected an object or its JSON'));
    expect(await s.ask('join', 42, 'my_response')).toEqual(failure('join', 'Malformed payload: expected an object or its JSON'));
    expect(await s.ask('join', { room: { nested: true } }, 'my_response')).toEqual(failure('join', 'room must be a string'));
    expect(await s.ask('message_event', { room_id: 'x', author: 'John Doe' }, 'my_response')).toEqual(failure('message_event', 'message_data is required'));
    expect(await s.ask('create_line_manager', { user_id: 'not-a-user', ...creds }, 'setting_response')).toEqual(
      failure('create_line_manager', 'user_id must be the id of an admin or agent of the workspace'),
    );
    expect(await s.ask('create_line_manager', { user_id: L.admin.id, positions_in_a_line: 'first', ...creds }, 'setting_response')).toEqual(
      failure('create_line_manager', 'positions_in_a_line must be a number'),
    );
    // A payload sent as JSON text is read like the object.
    expect((await s.ask('get_all_topics', JSON.stringify(creds), 'setting_response')).status).toBe('success');

    // An unknown event.
    expect(await s.ask('dance', { room: 'x' }, 'my_response')).toEqual(failure('dance', 'Unknown event: dance'));
    expect(await s.ask('constructor', {}, 'my_response')).toEqual(failure('constructor', 'Unknown event: constructor'));

    // Acknowledgement callbacks get the reply too (besides the reply event).
    const acked = await new Promise((resolve) => s.socket.emit('join', {}, resolve));
    expect(acked).toEqual(failure('join', 'room is required'));
    expect(await s.next('my_response', (d) => d.operation === 'join')).toEqual(acked);

    expect(s.socket.connected).toBe(true);
    const room = `still-${Date.now()}`;
    expect((await s.ask('join', { room }, 'my_response')).status).toBe('success');
    expect((await s.ask('message_event', { room_id: room, message_data: 'still here', author: 'John Doe' }, 'my_response')).status).toBe('success');
    expect((await fetch(`${L.t.url}/healthz`)).status).toBe(200);
  });

  it('closes a connection that breaks the Socket.IO protocol itself, and only that one', async () => {
    const survivor = await client();
    const raw = new WebSocket(`${L.t.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    await new Promise((resolve, reject) => {
      raw.once('open', resolve);
      raw.once('error', reject);
    });
    const closed = new Promise((resolve) => raw.once('close', resolve));
    raw.send('40');
    raw.send('42["join",{"room":');
    await closed;
    expect((await survivor.ask('join', { room: `after-${Date.now()}` }, 'my_response')).status).toBe('success');
    expect((await fetch(`${L.t.url}/healthz`)).status).toBe(200);
  });
});

describe('legacy 002: the product underneath', () => {
  it('leaves a call placed through the shim in the product: its room and its SYSTEM message', async () => {
    const a = await client();
    const b = await client();
    a.socket.emit('callUser', { signalData: { type: 'offer', sdp: OFFER }, from: a.id, name: 'A', userToCall: b.id });
    await b.next('callUser');
    a.socket.emit('endCall');
    await a.next('callEnded');
    await b.next('callEnded');
    const rooms = await L.t.exec(CallRooms, { workspaceId: L.workspaceId }, { token: L.admin.token });
    const room = rooms.data?.rooms.nodes.find((r) => r.name === `Call: ${a.id} & ${b.id}`);
    expect(room?.lastMessage).toEqual({ kind: 'SYSTEM', body: 'Cancelled video call' });
  });
});

describe('legacy 002: without LEGACY_API_KEY', () => {
  it('answers chat events that it is not configured, and serves support events with their own credentials', async () => {
    const bare = await startTestApp();
    try {
      const ws = await workspace(bare);
      const key = await apiKey(bare, ws.id, ws.admin.token);
      const socket = io(bare.url, { transports: ['websocket'], reconnection: false });
      sockets.push(socket);
      const reply = (event: string, payload: unknown, replyEvent: string) =>
        new Promise<Record<string, any>>((resolve) => {
          socket.on(replyEvent, (d: Record<string, any>) => d.operation === event && resolve(d));
          socket.emit(event, payload);
        });
      const refused = await reply('join', { room: 'lobby' }, 'my_response');
      expect(refused).toMatchObject({ status: 'failure', operation: 'join', data: expect.stringContaining('not configured') });
      expect(await reply('get_all_topics', { workspace_id: ws.id, api_key: key }, 'setting_response')).toEqual({ status: 'success', operation: 'get_all_topics', data: [] });
      socket.disconnect();
    } finally {
      await bare.close();
    }
  });
});

