/**
 * Usernames over real HTTP: chosen at sign-up or later, unique whatever their case, rules and
 * reserved words, a changed-away handle held for its owner, log-in by username or email,
 * user(username) and Workspace.memberByUsername within the viewer's workspaces only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { guest, person, workspace } from './helpers/fixtures.js';

const SignUp = graphql(`
  mutation UsernamesSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        user {
          id
          username
          email
        }
      }
      ... on ConflictError {
        code
        field
      }
      ... on ValidationError {
        code
        issues {
          path
          message
        }
      }
    }
  }
`);

const LogIn = graphql(`
  mutation UsernamesLogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload {
        user {
          id
        }
      }
      ... on Error {
        code
      }
    }
  }
`);

const SetUsername = graphql(`
  mutation UsernamesSet($username: String!) {
    setUsername(username: $username) {
      __typename
      ... on User {
        id
        username
      }
      ... on Error {
        code
      }
      ... on ConflictError {
        field
      }
    }
  }
`);

const ByName = graphql(`
  query UsernamesByName($username: String!, $workspaceId: ID!) {
    user(username: $username) {
      id
      username
    }
    workspace(id: $workspaceId) {
      memberByUsername(username: $username) {
        role
        user {
          id
        }
      }
    }
  }
`);

const UserOnly = graphql(`
  query UsernamesUserOnly($username: String!) {
    user(username: $username) {
      id
    }
  }
`);

const Me = graphql(`
  query UsernamesMe {
    me {
      id
      username
    }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ USERNAME_HOLD_DAYS: '0.00005' }); // about 4.3 s: long enough to see the hold, short enough to see it lapse
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
const handle = (tag: string) => `${tag}_${Date.now().toString(36)}${++n}`;

describe('usernames', () => {
  it('signs up with a username and no email, logs in by it in any case, and keeps it unique whatever its case', async () => {
    const name = handle('Grace');
    const res = await t.exec(SignUp, { input: { username: name, password: 'password-123', displayName: 'Grace' } });
    expect(res.data?.signUp).toMatchObject({ __typename: 'AuthPayload', user: { username: name, email: null } });
    const byLower = await t.exec(LogIn, { input: { login: name.toLowerCase(), password: 'password-123' } });
    expect(byLower.data?.logIn.__typename).toBe('AuthPayload');
    const wrong = await t.exec(LogIn, { input: { login: name, password: 'password-xyz' } });
    expect(wrong.data?.logIn).toEqual({ __typename: 'InvalidCredentialsError', code: 'INVALID_CREDENTIALS' });
    const again = await t.exec(SignUp, { input: { username: name.toUpperCase(), email: `${name}@example.com`, password: 'password-123', displayName: 'G' } });
    expect(again.data?.signUp).toEqual({ __typename: 'ConflictError', code: 'CONFLICT', field: 'username' });
    // The refused sign-up left no account behind: its email is free.
    const retry = await t.exec(SignUp, { input: { email: `${name}@example.com`, password: 'password-123', displayName: 'G' } });
    expect(retry.data?.signUp.__typename).toBe('AuthPayload');
  });

  it('refuses handles outside the rules and reserved words with a ValidationError naming the field, creating nothing', async () => {
    for (const bad of ['ab', 'x'.repeat(33), 'has space', 'ends.', '-lead', 'émile', 'here', 'Admin', 'a@b']) {
      const res = await t.exec(SignUp, { input: { username: bad, password: 'password-123', displayName: 'Bad' } });
      const out = res.data?.signUp;
      expect(out?.__typename, bad).toBe('ValidationError');
      if (out?.__typename === 'ValidationError') expect(out.issues[0]!.path).toEqual(['input', 'username']);
    }
    const none = await t.exec(SignUp, { input: { password: 'password-123', displayName: 'Nobody' } });
    expect(none.data?.signUp.__typename).toBe('ValidationError');
  });

  it('changes a username; the old one is held for its owner for USERNAME_HOLD_DAYS, then anyone may take it', async () => {
    const a = await person(t, 'a');
    const b = await person(t, 'b');
    const first = handle('first');
    expect((await t.exec(SetUsername, { username: first }, { token: a.token })).data?.setUsername).toMatchObject({ username: first });
    const second = handle('second');
    expect((await t.exec(SetUsername, { username: second }, { token: a.token })).data?.setUsername).toMatchObject({ username: second });
    // Held: B cannot take it, A can take it back.
    const held = await t.exec(SetUsername, { username: first }, { token: b.token });
    expect(held.data?.setUsername).toEqual({ __typename: 'ConflictError', code: 'CONFLICT', field: 'username' });
    expect((await t.exec(LogIn, { input: { login: first, password: 'password-123' } })).data?.logIn.__typename).toBe('InvalidCredentialsError');
    // Once the hold lapses, B takes it.
    const deadline = Date.now() + 20_000;
    let taken = held;
    while (taken.data?.setUsername.__typename !== 'User' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      taken = await t.exec(SetUsername, { username: first }, { token: b.token });
    }
    expect(taken.data?.setUsername).toMatchObject({ __typename: 'User', id: b.id, username: first });
    expect((await t.exec(Me, {}, { token: a.token })).data?.me).toEqual({ id: a.id, username: second });
  });

  it('finds users by username only within the viewer’s workspaces; guests have none and cannot set one', async () => {
    const one = await workspace(t, { ann: 'AGENT' });
    const other = await workspace(t, { zed: 'CLIENT' });
    const ann = handle('ann');
    const zed = handle('zed');
    await t.exec(SetUsername, { username: ann }, { token: one.people.ann!.token });
    await t.exec(SetUsername, { username: zed }, { token: other.people.zed!.token });
    const found = await t.exec(ByName, { username: ann.toUpperCase(), workspaceId: one.id }, { token: one.admin.token });
    expect(found.data).toEqual({ user: { id: one.people.ann!.id, username: ann }, workspace: { memberByUsername: { role: 'AGENT', user: { id: one.people.ann!.id } } } });
    // Another workspace's user: NOT_FOUND, exactly as an unknown name; memberByUsername null.
    const stranger = await t.exec(UserOnly, { username: zed }, { token: one.admin.token });
    const unknown = await t.exec(UserOnly, { username: 'nobody_at_all' }, { token: one.admin.token });
    expect(stranger.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(stranger.errors?.[0]?.message).toBe(unknown.errors?.[0]?.message);
    const none = await t.exec(ByName, { username: zed, workspaceId: one.id }, { token: one.admin.token });
    expect(none.data?.workspace.memberByUsername ?? null).toBeNull();

    const visitor = await guest(t, one.id, `visitor-${Date.now()}`);
    expect((await t.exec(Me, {}, { token: visitor.token })).data?.me).toMatchObject({ username: null });
    const refused = await t.exec(SetUsername, { username: handle('guesty') }, { token: visitor.token });
    expect(refused.data?.setUsername).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
  });
});
