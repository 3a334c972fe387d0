/**
 * Canned replies: the workspace's and each agent's private ones, found by short code or text,
 * filled on use, and sent as ordinary messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { workspace, type Person } from './helpers/fixtures.js';
import { apiKey, openTicket, product } from './helpers/support.js';

const Create = graphql(`
  mutation CannedCreate($input: CreateCannedReplyInput!) {
    createCannedReply(input: $input) {
      __typename
      ... on CannedReply {
        id
        shortCode
        title
        private
        owner {
          id
        }
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const List = graphql(`
  query CannedList($workspaceId: ID!, $search: String) {
    cannedReplies(workspaceId: $workspaceId, search: $search) {
      id
      shortCode
      private
    }
  }
`);

const Update = graphql(`
  mutation CannedUpdate($input: UpdateCannedReplyInput!) {
    updateCannedReply(input: $input) {
      __typename
      ... on CannedReply {
        body
      }
      ... on Error {
        code
      }
    }
  }
`);

const Delete = graphql(`
  mutation CannedDelete($id: ID!) {
    deleteCannedReply(id: $id) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Preview = graphql(`
  query CannedPreview($workspaceId: ID!, $search: String, $conversationId: ID!) {
    cannedReplies(workspaceId: $workspaceId, search: $search) {
      shortCode
      filledFor(conversationId: $conversationId)
    }
  }
`);

const SendCanned = graphql(`
  mutation CannedSend($input: SendCannedReplyInput!) {
    sendCannedReply(input: $input) {
      __typename
      ... on Message {
        id
        seq
        body
        visibility
        author {
          id
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Events = graphql(`
  subscription CannedEvents($conversationId: ID!, $after: Int) {
    conversationEvents(conversationId: $conversationId, after: $after) {
      type
      message {
        body
      }
    }
  }
`);

let t: TestApp;
let workspaceId: string;
let admin: Person;
let ann: Person;
let ben: Person;
let carol: Person;
let key: string;
let slug: string;

beforeAll(async () => {
  t = await startTestApp();
  const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', carol: 'CLIENT' });
  workspaceId = ws.id;
  admin = ws.admin;
  ann = ws.people.ann!;
  ben = ws.people.ben!;
  carol = ws.people.carol!;
  key = await apiKey(t, workspaceId, admin.token);
  slug = (await product(t, admin.token, workspaceId)).slug;
});
afterAll(async () => {
  await t?.close();
});

async function create(token: string, input: { shortCode: string; title: string; body: string; private?: boolean }, ws = workspaceId) {
  return (await t.exec(Create, { input: { workspaceId: ws, ...input } }, { token })).data!.createCannedReply;
}

describe('canned replies', () => {
  it('creates workspace and private replies; a short code is unique in its scope; bad input is refused', async () => {
    const shared = await create(admin.token, { shortCode: '/Refund', title: 'Refund policy', body: 'Hi {{customer.name}}, refunds take 5 days.' });
    expect(shared).toMatchObject({ __typename: 'CannedReply', shortCode: 'refund', private: false, owner: null });
    // Ann may keep a private reply of the same code; not a second workspace one.
    const mine = await create(ann.token, { shortCode: 'refund', title: 'My refund', body: 'Refund on its way, {{customer.name}}. {{agent.name}}', private: true });
    expect(mine).toMatchObject({ __typename: 'CannedReply', private: true, owner: { id: ann.id } });
    expect(await create(admin.token, { shortCode: 'REFUND', title: 'again', body: 'x' })).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    expect(await create(ann.token, { shortCode: 'refund', title: 'again', body: 'x', private: true })).toMatchObject({ code: 'CONFLICT' });
    // Agents keep private replies; the workspace's are for admins and API keys.
    expect(await create(ann.token, { shortCode: 'hello', title: 'Hello', body: 'Hello' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await create(key, { shortCode: 'hello', title: 'Hello', body: 'Hello {{agent.name}}' })).toMatchObject({ __typename: 'CannedReply', private: false });
    // Bad input: a code with spaces, an unknown variable; customers and strangers get nothing.
    expect(await create(admin.token, { shortCode: 'two words', title: 't', body: 'b' })).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const unknown = await create(admin.token, { shortCode: 'vars', title: 't', body: 'Hi {{customer.email}}' });
    expect(unknown).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'body'] }] });
    expect(await create(carol.token, { shortCode: 'x', title: 't', body: 'b', private: true })).toMatchObject({ code: 'NOT_FOUND' });
    const other = await workspace(t);
    expect(await create(admin.token, { shortCode: 'x', title: 't', body: 'b' }, other.id)).toMatchObject({ code: 'NOT_FOUND' });
    const listed = await t.exec(List, { workspaceId }, { token: admin.token });
    expect(listed.data!.cannedReplies.map((r) => r.shortCode)).toEqual(['hello', 'refund']);
  });

  it('searches by short code prefix and by text; private replies are invisible to other agents, admins included', async () => {
    const secret = await create(ben.token, { shortCode: 'ship-delay', title: 'Shipping delay', body: 'Your parcel is delayed by the carrier.', private: true });
    if (secret.__typename !== 'CannedReply') throw new Error(JSON.stringify(secret));
    await create(admin.token, { shortCode: 'shipping', title: 'Shipping times', body: 'We ship within 2 days.' });
    await create(admin.token, { shortCode: 'carrier', title: 'Carriers', body: 'We use two carriers.' });

    const search = async (token: string, text: string) => (await t.exec(List, { workspaceId, search: text }, { token })).data!.cannedReplies.map((r) => r.shortCode);
    expect(await search(ben.token, 'ship')).toEqual(['ship-delay', 'shipping']);
    expect(await search(ben.token, 'CARRIER')).toEqual(['carrier', 'ship-delay']);
    expect(await search(ben.token, '/shipping')).toEqual(['shipping']);
    // Not Ann's, not the admin's, not an API key's: theirs alone.
    expect(await search(ann.token, 'ship')).toEqual(['shipping']);
    expect(await search(admin.token, 'carrier')).toEqual(['carrier']);
    expect(await search(key, 'delay')).toEqual([]);
    expect((await t.exec(Update, { input: { id: secret.id, body: 'taken over' } }, { token: admin.token })).data!.updateCannedReply).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect((await t.exec(Delete, { id: secret.id }, { token: ann.token })).data!.deleteCannedReply).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const ticket = await openTicket(t, carol.token, { workspaceId, productSlug: slug, message: 'Where is it?' });
    const sentByAnn = await t.exec(SendCanned, { input: { conversationId: ticket.id, cannedReplyId: secret.id } }, { token: ann.token });
    expect(sentByAnn.data!.sendCannedReply).toMatchObject({ __typename: 'NotFoundError' });
    expect((await t.exec(Update, { input: { id: secret.id, body: 'Delayed, sorry.' } }, { token: ben.token })).data!.updateCannedReply).toEqual({ __typename: 'CannedReply', body: 'Delayed, sorry.' });
    // Customers have none to search.
    expect((await t.exec(List, { workspaceId }, { token: carol.token })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('fills the variables on use and sends an ordinary message through the pipeline', async () => {
    await create(admin.token, { shortCode: 'greet', title: 'Greeting', body: 'Hello {{customer.name}}, I am {{agent.name}}; your ticket is {{ticket.id}}.' });
    const ticket = await openTicket(t, carol.token, { workspaceId, productSlug: slug, message: 'Help' });
    const preview = await t.exec(Preview, { workspaceId, search: 'greet', conversationId: ticket.id }, { token: ann.token });
    expect(preview.data!.cannedReplies).toEqual([{ shortCode: 'greet', filledFor: `Hello carol, I am ann; your ticket is ${ticket.id}.` }]);

    const live = collect(t.ws({ token: carol.token }), Events, { conversationId: ticket.id, after: 0 });
    await live.next(1);
    const sent = await t.exec(SendCanned, { input: { conversationId: ticket.id, shortCode: 'greet', clientMessageId: 'greet-1' } }, { token: ann.token });
    expect(sent.data!.sendCannedReply).toMatchObject({
      __typename: 'Message',
      seq: 2,
      visibility: 'PUBLIC',
      body: `Hello carol, I am ann; your ticket is ${ticket.id}.`,
      author: { id: ann.id },
    });
    // The customer gets it as any other message; a retry with the same key is the same message.
    const [, event] = await live.next(2);
    expect(event!.data!.conversationEvents.message!.body).toBe(`Hello carol, I am ann; your ticket is ${ticket.id}.`);
    const again = await t.exec(SendCanned, { input: { conversationId: ticket.id, shortCode: 'greet', clientMessageId: 'greet-1' } }, { token: ann.token });
    expect(again.data!.sendCannedReply).toMatchObject({ seq: 2 });
    // An API key sends as the staff member it names, whose name fills {{agent.name}}.
    const viaKey = await t.exec(SendCanned, { input: { conversationId: ticket.id, shortCode: 'hello', asUserId: ben.id } }, { token: key });
    expect(viaKey.data!.sendCannedReply).toMatchObject({ body: 'Hello ben', author: { id: ben.id } });
    // As a note: the customer does not get it.
    const note = await t.exec(SendCanned, { input: { conversationId: ticket.id, shortCode: 'hello', visibility: 'INTERNAL' } }, { token: ann.token });
    expect(note.data!.sendCannedReply).toMatchObject({ visibility: 'INTERNAL', seq: 4 });
    // Customers send none.
    expect((await t.exec(SendCanned, { input: { conversationId: ticket.id, shortCode: 'greet' } }, { token: carol.token })).data!.sendCannedReply).toMatchObject({ code: 'FORBIDDEN' });
    live.dispose();
  });

  it('refuses a reply whose variable has no value in the conversation, writing nothing', async () => {
    await create(admin.token, { shortCode: 'ticketref', title: 'Ticket reference', body: 'Your reference: {{ticket.id}}' });
    // A thread of a type between carol and the desk is not a ticket: {{ticket.id}} has no value.
    const ThreadMessage = graphql(`
      mutation CannedThread($input: SendThreadMessageInput!) {
        sendThreadMessage(input: $input) {
          __typename
          ... on ThreadMessageSent {
            thread {
              id
              lastSeq
            }
          }
        }
      }
    `);
    const opened = await t.exec(ThreadMessage, { input: { workspaceId, threadType: 'Billing', body: 'Invoice question' } }, { token: carol.token });
    if (opened.data?.sendThreadMessage.__typename !== 'ThreadMessageSent') throw new Error(JSON.stringify(opened));
    const threadId = opened.data.sendThreadMessage.thread.id;
    const refused = await t.exec(SendCanned, { input: { conversationId: threadId, shortCode: 'ticketref' } }, { token: ann.token });
    expect(refused.data!.sendCannedReply).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT', message: expect.stringContaining('{{ticket.id}}') });
    const ok = await t.exec(SendCanned, { input: { conversationId: threadId, shortCode: 'hello', asUserId: ann.id } }, { token: key });
    // seq 2: the refused send left no hole.
    expect(ok.data!.sendCannedReply).toMatchObject({ seq: 2, body: 'Hello ann' });
  });
});
