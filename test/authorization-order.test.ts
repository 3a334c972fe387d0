/**
 * Authorization comes before input validation: a caller who may not use a field, or who names
 * an object they cannot reach, gets UNAUTHENTICATED / FORBIDDEN / NOT_FOUND even when their
 * input is also invalid, and nothing changes. (Validating first told strangers what a field
 * accepts and whether an id exists.) Validation errors stay typed results of the mutations'
 * unions for those who may ask.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { guest, person, workspace } from './helpers/fixtures.js';

const CreateRoom = graphql(`
  mutation AoCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
      ... on Error {
        code
      }
    }
  }
`);

const CreateWorkspace = graphql(`
  mutation AoCreateWorkspace($name: String!) {
    createWorkspace(input: { name: $name }) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Send = graphql(`
  mutation AoSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const LastSeq = graphql(`
  query AoLastSeq($id: ID!) {
    conversation(id: $id) {
      lastSeq
    }
  }
`);

const SignUp = graphql(`
  mutation AoSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

/** Longer than any message may be (MAX_BODY_LENGTH is 10,000). */
const TOO_LONG = 'x'.repeat(10_001);

describe('authorization before input validation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('tells an anonymous caller to sign in, whatever the input', async () => {
    const ws = await workspace(t);
    const res = await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: '' } });
    expect(res.data?.createRoom).toEqual({ __typename: 'UnauthenticatedError', code: 'UNAUTHENTICATED' });
    // A public field still validates (there is nothing to authorize first).
    const signUp = await t.exec(SignUp, { input: { email: 'not an email', password: 'x', displayName: '' } });
    expect(signUp.data?.signUp).toEqual({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
  });

  it('refuses a credential that may not use the field before looking at the input', async () => {
    const ws = await workspace(t);
    const visitor = await guest(t, ws.id, `ao-${Date.now()}`);
    const res = await t.exec(CreateWorkspace, { name: '' }, { token: visitor.token });
    expect(res.data?.createWorkspace).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
  });

  it('answers NOT_FOUND for another workspace’s objects before validating, and changes nothing', async () => {
    const a = await workspace(t);
    const b = await workspace(t);
    const room = await t.exec(CreateRoom, { input: { workspaceId: a.id, name: 'A room' } }, { token: a.admin.token });
    const roomId = room.data?.createRoom.__typename === 'Room' ? room.data.createRoom.id : '';
    expect(roomId).not.toBe('');
    const before = (await t.exec(LastSeq, { id: roomId }, { token: a.admin.token })).data?.conversation.lastSeq;
    expect(before).toBeTypeOf('number');

    // B's admin: an invalid room in A's workspace, an over-long message in A's room.
    const intoA = await t.exec(CreateRoom, { input: { workspaceId: a.id, name: '' } }, { token: b.admin.token });
    expect(intoA.data?.createRoom).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const sent = await t.exec(Send, { input: { conversationId: roomId, body: TOO_LONG } }, { token: b.admin.token });
    expect(sent.data?.sendMessage).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    // An id that cannot be one is NOT_FOUND too, not a validation error.
    const bogus = await t.exec(Send, { input: { conversationId: 'not-an-id', body: TOO_LONG } }, { token: b.admin.token });
    expect(bogus.data?.sendMessage).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const someone = await person(t, 'stranger');
    const stranger = await t.exec(Send, { input: { conversationId: roomId, body: TOO_LONG } }, { token: someone.token });
    expect(stranger.data?.sendMessage).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });

    // A's admin may ask, so is told what is wrong with the input, as a typed result.
    const own = await t.exec(CreateRoom, { input: { workspaceId: a.id, name: '' } }, { token: a.admin.token });
    expect(own.data?.createRoom).toEqual({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const long = await t.exec(Send, { input: { conversationId: roomId, body: TOO_LONG } }, { token: a.admin.token });
    expect(long.data?.sendMessage).toEqual({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });

    // Nothing was written.
    const seq = await t.exec(LastSeq, { id: roomId }, { token: a.admin.token });
    expect(seq.data?.conversation.lastSeq).toBe(before);
  });
});
