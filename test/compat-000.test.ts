/**
 * Legacy 000 (DowellChat) through the shim, with the clients its apps are: fetch with JSON,
 * URL-encoded and multipart bodies, following the document's own examples and asserting its
 * response shapes; messages cross between the legacy paths and graphql-ws both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect } from './helpers/app.js';
import { workspace, type Person } from './helpers/fixtures.js';
import { startLegacyApp, type LegacyApp } from './helpers/legacy.js';

const CreateOrganization = graphql(`
  mutation Compat000CreateOrganization($input: CreateOrganizationInput!) {
    createOrganization(input: $input) {
      __typename
      ... on Organization {
        id
      }
    }
  }
`);

const CreateProduct = graphql(`
  mutation Compat000CreateProduct($input: CreateProductInput!) {
    createProduct(input: $input) {
      __typename
      ... on Product {
        id
      }
    }
  }
`);

const AddMember = graphql(`
  mutation Compat000AddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
    }
  }
`);

const Events = graphql(`
  subscription Compat000Events($conversationId: ID!, $after: Int) {
    conversationEvents(conversationId: $conversationId, after: $after) {
      type
      message {
        id
        body
        kind
        side
        author {
          id
        }
      }
    }
  }
`);

const Send = graphql(`
  mutation Compat000Send($input: SendMessageInput!) {
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

let L: LegacyApp;
let url: string;
let organizationId: string;
let agent: Person;

beforeAll(async () => {
  L = await startLegacyApp();
  url = L.t.url;
  const token = L.admin.token;
  const org = await L.t.exec(CreateOrganization, { input: { workspaceId: L.workspaceId, name: 'DOWELL12345' } }, { token });
  if (org.data?.createOrganization.__typename !== 'Organization') throw new Error(JSON.stringify(org));
  organizationId = org.data.createOrganization.id;
  const products = [
    { slug: 'sales-agent', name: 'Sales-Agent', forAdmins: true, forClients: false },
    { slug: 'login', name: 'Login', forAdmins: true, forClients: false },
    { slug: 'workflow-ai', name: 'Workflow-AI', forAdmins: false, forClients: true, organizationId },
  ];
  for (const input of products) {
    const p = await L.t.exec(CreateProduct, { input: { workspaceId: L.workspaceId, ...input } }, { token });
    if (p.data?.createProduct.__typename !== 'Product') throw new Error(JSON.stringify(p));
  }
  // An agent of the legacy workspace, who answers through the support page.
  const other = await workspace(L.t, { agent: 'AGENT' });
  agent = other.people.agent!;
  const added = await L.t.exec(AddMember, { input: { workspaceId: L.workspaceId, email: agent.email, role: 'AGENT' } }, { token });
  if (added.data?.addWorkspaceMember.__typename !== 'Membership') throw new Error(JSON.stringify(added));
});
afterAll(async () => {
  await L?.t.close();
});

const session = (tag: string) => `${tag}${Date.now().toString(36)}x${Math.random().toString(36).slice(2, 10)}`;
const get = async (path: string) => {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const postJson = async (path: string, body: unknown) => {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const postForm = async (path: string, fields: Record<string, string>, multipart = false) => {
  let body: FormData | URLSearchParams;
  if (multipart) {
    body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
  } else {
    body = new URLSearchParams(fields);
  }
  const res = await fetch(`${url}${path}`, { method: 'POST', body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const MINUTES = /^\d{4}-\d\d-\d\dT\d\d:\d\d\+00:00$/;

interface LegacyMessage {
  id: string;
  timestamp: string;
  room_id: string;
  read: boolean;
  message: string;
  message_type: string;
  side: boolean;
  author: { id: string; session_id: string | null };
}

describe('legacy 000 support page', () => {
  it('creates a user profile from a session_id in the documented shape', async () => {
    const sid = session('admin');
    const { status, body } = await get(`/create-user-profile/?session_id=${sid}`);
    expect(status).toBe(200);
    expect(body).toEqual({ status: 200, portfolio: { portfolio_name: expect.any(String), userID: expect.any(String), organization: null } });
    // The same session is the same person.
    const again = await get(`/create-user-profile/?session_id=${sid}`);
    expect((again.body.portfolio as { userID: string }).userID).toBe((body.portfolio as { userID: string }).userID);
  });

  it('lists admin, client and all products by name', async () => {
    expect(await get('/admin_product_list/')).toEqual({ status: 200, body: { product_list: ['Login', 'Sales-Agent'] } });
    expect(await get('/client_product_list/')).toEqual({ status: 200, body: { product_list: ['Workflow-AI'] } });
    expect(await get('/product_list/')).toEqual({ status: 200, body: { product_list: ['Login', 'Sales-Agent', 'Workflow-AI'] } });
  });
});

describe('legacy 000 sales-agent app', () => {
  it('opens a room with the welcome message, posts both ways live, lists, answers from the support page, and deletes it', async () => {
    const sid = session('visitor');
    const opened = await get(`/dowell-api/create-room/sales-agent/?session_id=${sid}`);
    expect(opened.status).toBe(200);
    const room = opened.body as { session_id: string; product: string; portfolio: string; messages: LegacyMessage[]; room_pk: string };
    expect(room).toMatchObject({ session_id: sid, product: 'sales-agent', portfolio: expect.any(String), room_pk: expect.any(String) });
    expect(room.messages).toHaveLength(1);
    expect(room.messages[0]).toEqual({
      id: expect.any(String),
      timestamp: expect.stringMatching(MINUTES),
      room_id: room.room_pk,
      read: true,
      message: 'Hey, How may I help you?',
      message_type: 'TEXT',
      side: true,
      author: { id: room.portfolio, session_id: sid },
    });
    // Opening again is the same room.
    expect(((await get(`/dowell-api/create-room/sales-agent/?session_id=${sid}`)).body as { room_pk: string }).room_pk).toBe(room.room_pk);

    // An agent watches the room over graphql-ws while the visitor posts through the legacy path.
    // Resuming after the welcome message (seq 1) leaves no window between subscribing and the post.
    const live = collect(L.t.ws({ token: agent.token }), Events, { conversationId: room.room_pk, after: 1 });
    const posted = await postJson(`/send/${room.room_pk}/`, { message: 'I want a quote', user_id: room.portfolio, side: false });
    expect(posted.status).toBe(200);
    const afterPost = posted.body as { messages: LegacyMessage[]; room_pk: string };
    expect(afterPost.room_pk).toBe(room.room_pk);
    expect(afterPost.messages).toHaveLength(2);
    expect(afterPost.messages[1]).toMatchObject({
      message: 'I want a quote',
      message_type: 'TEXT',
      side: false,
      read: false,
      author: { id: room.portfolio, session_id: sid },
    });
    const [event] = await live.next(1);
    expect(event!.data!.conversationEvents).toMatchObject({ type: 'MESSAGE_ADDED', message: { body: 'I want a quote', side: 'LEFT', author: { id: room.portfolio } } });

    // The agent answers over GraphQL; the legacy app sees it on its next GET.
    const answer = await L.t.exec(Send, { input: { conversationId: room.room_pk, body: 'Happy to help' } }, { token: agent.token });
    expect(answer.data!.sendMessage.__typename).toBe('Message');
    const polled = await get(`/send/${room.room_pk}/`);
    const list = (polled.body as { messages: LegacyMessage[] }).messages;
    expect(list.map((m) => m.message)).toEqual(['Hey, How may I help you?', 'I want a quote', 'Happy to help']);
    expect(list[2]).toMatchObject({ side: true, author: { id: agent.id, session_id: null } });
    // The agent has read the visitor's message by answering it.
    expect(list[1]!.read).toBe(true);
    // The support page reads the same room through send_message/<pk>/.
    expect(await get(`/send_message/${room.room_pk}/`)).toEqual(polled);

    // The support page lists the product's rooms (any organization for an unknown org id) with the first room's messages.
    const rooms = await get(`/room_list/Sales-Agent/unknown-org`);
    expect(rooms.status).toBe(200);
    const listed = rooms.body as { rooms: Array<Record<string, unknown>>; firstroom: Record<string, unknown>; messages: LegacyMessage[] };
    expect(listed.rooms).toContainEqual({ room_id: room.room_pk, room_name: 'Sales: Sales-Agent', company: null, r_session: sid });
    expect(listed.firstroom).toEqual(listed.rooms[0]);
    expect(Array.isArray(listed.messages)).toBe(true);

    // The support page answers with send_message/<pk>/: form-encoded, then multipart with an image.
    const fromPage = await postForm(`/send_message/${room.room_pk}/`, { message: 'Here is our price list', user_id: agent.id, message_type: 'text', org_id: organizationId });
    expect(fromPage.status).toBe(200);
    const image = await postForm(
      `/send_message/${room.room_pk}/`,
      { message: 'https://example.com/prices.png', user_id: agent.id, message_type: 'Image', org_id: organizationId },
      true,
    );
    expect(image.status).toBe(200);
    const all = (image.body as { messages: LegacyMessage[] }).messages;
    expect(all.slice(-2)).toMatchObject([
      { message: 'Here is our price list', message_type: 'TEXT', side: true, author: { id: agent.id } },
      { message: 'https://example.com/prices.png', message_type: 'IMAGE', side: true, author: { id: agent.id } },
    ]);
    const both = await live.next(4);
    expect(both.slice(2).map((r) => r.data!.conversationEvents.message?.kind)).toEqual(['TEXT', 'IMAGE']);
    live.dispose();

    // Only the visitor's own session deletes its room.
    expect(await get(`/dowell-api/sender-delete-room/sales-agent/?session_id=${session('other')}&product=sales-agent`)).toEqual({
      status: 404,
      body: { detail: 'Not found.' },
    });
    expect(await get(`/dowell-api/sender-delete-room/sales-agent/?session_id=${sid}&product=sales-agent`)).toEqual({
      status: 200,
      body: { status: 'Room deleted successfully' },
    });
    expect(await get(`/send/${room.room_pk}/`)).toEqual({ status: 404, body: { detail: 'Not found.' } });
  });
});

describe('legacy 000 customer-support mobile app', () => {
  it('creates the portfolio and room for a signed-in user, posts, and deletes the room', async () => {
    const sid = session('mobile');
    const created = await postJson('/create-portfolio-mobile/', { username: 'muzahid', user_id: 'ABCD12345', session_id: sid, org_id: organizationId });
    expect(created.status).toBe(200);
    const room = created.body as { session_id: string; product: string; portfolio: string; messages: LegacyMessage[]; room_pk: string };
    expect(room).toMatchObject({ session_id: sid, product: 'sales-agent', portfolio: expect.any(String) });
    expect(room.messages[0]).toMatchObject({ message: 'Hey, How may I help you?', read: true, side: true, author: { id: room.portfolio, session_id: sid } });
    // The portfolio carries the username and the organization.
    const profile = await get(`/create-user-profile/?session_id=${sid}`);
    expect(profile.body).toEqual({ status: 200, portfolio: { portfolio_name: 'muzahid', userID: room.portfolio, organization: organizationId } });
    // A legacy Dowell org id the workspace does not know still gets a portfolio (under no organization).
    const legacyOrg = await postForm('/create-portfolio-mobile/', { username: 'other', user_id: 'X1', session_id: session('mob'), org_id: 'DOWELL99999' });
    expect(legacyOrg.status).toBe(200);

    const posted = await postForm(`/send/${room.room_pk}/`, { message: 'my order is late', user_id: room.portfolio, side: 'false' }, true);
    expect((posted.body as { messages: LegacyMessage[] }).messages.at(-1)).toMatchObject({ message: 'my order is late', side: false });

    expect(await get(`/delete-customer-support-mobile/?session_id=${session('stranger')}&room_id=${room.room_pk}`)).toEqual({
      status: 404,
      body: { detail: 'Not found.' },
    });
    expect(await get(`/delete-customer-support-mobile/?session_id=${sid}&room_id=${room.room_pk}`)).toEqual({
      status: 200,
      body: { status: 'Room deleted successfully' },
    });
    expect(await get(`/delete-customer-support-room/?session_id=${sid}&room_id=${room.room_pk}`)).toEqual({ status: 404, body: { detail: 'Not found.' } });
  });

  it('deletes a room from the web support page with session_id and room_id', async () => {
    const sid = session('web');
    const room = (await get(`/dowell-api/create-room/sales-agent/?session_id=${sid}`)).body as { room_pk: string };
    expect(await get(`/delete-customer-support-room/?session_id=${sid}&room_id=${room.room_pk}`)).toEqual({
      status: 200,
      body: { status: 'Room deleted successfully' },
    });
  });
});

describe('legacy 000 bad input', () => {
  it('answers the legacy way and keeps serving', async () => {
    const sid = session('bad');
    const room = (await get(`/dowell-api/create-room/sales-agent/?session_id=${sid}`)).body as { room_pk: string; portfolio: string };
    // Missing session_id, room_id, product, message or author.
    expect(await get('/create-user-profile/')).toEqual({ status: 400, body: { detail: 'The session_id parameter is required.' } });
    expect(await get('/dowell-api/create-room/sales-agent/')).toMatchObject({ status: 400 });
    expect(await get(`/delete-customer-support-room/?room_id=${room.room_pk}`)).toMatchObject({ status: 400, body: { detail: 'The session_id parameter is required.' } });
    expect(await get(`/delete-customer-support-room/?session_id=${sid}`)).toMatchObject({ status: 400, body: { detail: 'The room_id parameter is required.' } });
    expect(await get(`/dowell-api/sender-delete-room/sales-agent/?session_id=${sid}`)).toMatchObject({ status: 400 });
    expect(await get('/create-user-profile/?session_id=short')).toMatchObject({ status: 400 });
    expect(await postJson(`/send/${room.room_pk}/`, { user_id: room.portfolio })).toMatchObject({ status: 400, body: { detail: 'The message parameter is required.' } });
    expect(await postJson(`/send/${room.room_pk}/`, { message: 'who am I' })).toMatchObject({ status: 400, body: { detail: 'The user_id parameter is required.' } });
    // Unknown rooms, in the legacy integer form and as an id that does not exist.
    expect(await get('/send_message/12/')).toEqual({ status: 404, body: { detail: 'Not found.' } });
    expect(await get('/send/8a0c0d3e-1111-4222-8333-944455556666/')).toEqual({ status: 404, body: { detail: 'Not found.' } });
    expect(await postJson('/send/8a0c0d3e-1111-4222-8333-944455556666/', { message: 'x', user_id: room.portfolio })).toEqual({
      status: 404,
      body: { detail: 'Not found.' },
    });
    expect(await get(`/delete-customer-support-room/?session_id=${sid}&room_id=42`)).toEqual({ status: 404, body: { detail: 'Not found.' } });
    // Unknown user, and someone who may not write in this room.
    expect(await postJson(`/send/${room.room_pk}/`, { message: 'x', user_id: '8a0c0d3e-1111-4222-8333-944455556666' })).toEqual({
      status: 404,
      body: { detail: 'Wrong user_id, user not found.' },
    });
    const other = (await get(`/dowell-api/create-room/sales-agent/?session_id=${session('other')}`)).body as { portfolio: string };
    expect(await postJson(`/send/${room.room_pk}/`, { message: 'x', user_id: other.portfolio })).toMatchObject({ status: 403 });
    // Malformed JSON.
    const malformed = await fetch(`${url}/send/${room.room_pk}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message": ' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { detail: string }).detail).toMatch(/JSON parse error/);
    // Wrong method.
    expect((await fetch(`${url}/product_list/`, { method: 'POST' })).status).toBe(405);
    // Nothing above reached the room, and the server still answers.
    const after = await get(`/send/${room.room_pk}/`);
    expect((after.body as { messages: unknown[] }).messages).toHaveLength(1);
  });
});
