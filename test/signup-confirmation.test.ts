/**
 * Sign-up that tells nobody which emails are registered (issue 11, "production posture";
 * src/modules/users/signup-confirmation.ts): with SIGNUP_CONFIRMATION on, signUp answers the
 * same for a free and a taken address and the difference goes out by mail, read here from the
 * app's real Mailer (its log transport's inbox, `services.mailer.recent`) or from a relay the
 * test runs (MAIL_WEBHOOK_URL).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, until, type TestApp } from './helpers/app.js';
import { loadConfig } from '../src/config/env.js';
import { hashPassword } from '../src/auth/passwords.js';
import type { MailMessage } from '../src/mail/mailer.js';

type Reply = { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

async function raw(t: TestApp, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Reply };
}

const SIGN_UP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    __typename
    ... on SignUpPending { message expiresInSeconds }
    ... on AuthPayload { accessToken user { id email username } }
    ... on Error { code message }
    ... on ConflictError { field }
  }
}`;
const CONFIRM = `mutation Confirm($token: String!) {
  confirmSignUp(token: $token) {
    __typename
    ... on AuthPayload { accessToken refreshToken user { id email username displayName } }
    ... on Error { code message }
    ... on ConflictError { field }
  }
}`;
const LOG_IN = `mutation LogIn($login: String!, $password: String!) {
  logIn(input: { login: $login, password: $password }) { __typename ... on AuthPayload { user { id } } ... on Error { code } }
}`;
const ME = `{ me { id email username displayName } }`;

let n = 0;
const unique = (tag: string) => `${tag}${Date.now().toString(36)}${(n++).toString(36)}`;

/** What the database holds that a sign-up could add to. */
async function counts(t: TestApp) {
  const db = t.app.services.db;
  const [users, pending, claims, refreshTokens] = await Promise.all([
    db.user.count(),
    db.pendingSignUp.count(),
    db.usernameClaim.count(),
    db.refreshToken.count(),
  ]);
  return { users, pending, claims, refreshTokens };
}

const inbox = (t: TestApp) => t.app.services.mailer.recent;
const mailsTo = (t: TestApp, to: string) => inbox(t).filter((m) => m.to === to);

function tokenOf(mail: MailMessage | undefined): string {
  expect(mail?.link).toBeTruthy();
  const token = new URL(mail!.link!).searchParams.get('token');
  expect(token).toMatch(/^su_/);
  return token!;
}

async function registered(t: TestApp, email: string, password = 'owner-password-1') {
  return t.app.services.db.user.create({ data: { email, passwordHash: await hashPassword(password), displayName: 'Owner' } });
}

describe('with SIGNUP_CONFIRMATION on', { timeout: 60_000 }, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SIGNUP_CONFIRMATION: 'true', SIGNUP_CONFIRMATION_URL: 'https://app.example.com/welcome' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a free and a registered email with the same bytes; the registered stores nothing and its owner is told, the free stores only a pending sign-up', async () => {
    const taken = `${unique('owner')}@example.com`;
    const free = `${unique('newcomer')}@example.com`;
    await registered(t, taken);
    const before = await counts(t);
    const mailsBefore = inbox(t).length;

    const input = { password: 'a-new-password-9', displayName: 'Someone' };
    const takenReply = await raw(t, SIGN_UP, { input: { ...input, email: taken } });
    const freeReply = await raw(t, SIGN_UP, { input: { ...input, email: free } });
    // The whole HTTP answers, byte for byte.
    expect(freeReply.status).toBe(200);
    expect(takenReply.status).toBe(freeReply.status);
    expect(takenReply.text).toBe(freeReply.text);
    expect(freeReply.body.data?.signUp).toMatchObject({ __typename: 'SignUpPending', expiresInSeconds: 24 * 3600 });

    // Stored: one pending sign-up (the free address's), no user, no claim, no session.
    expect(await counts(t)).toEqual({ ...before, pending: before.pending + 1 });
    const db = t.app.services.db;
    expect(await db.pendingSignUp.count({ where: { email: taken } })).toBe(0);
    const pending = await db.pendingSignUp.findMany({ where: { email: free } });
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ displayName: 'Someone', username: null });
    expect(pending[0]!.passwordHash).toMatch(/^\$argon2/);
    expect(pending[0]!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);

    // Mailed: the owner a notice (no link), the newcomer a link whose token is stored only hashed.
    expect(inbox(t).length).toBe(mailsBefore + 2);
    const [notice] = mailsTo(t, taken);
    expect(notice).toMatchObject({ kind: 'signUpAttempted', subject: 'Someone tried to sign up with your address' });
    expect(notice!.link).toBeUndefined();
    const [confirmation] = mailsTo(t, free);
    expect(confirmation).toMatchObject({ kind: 'signUpConfirmation', subject: 'Confirm your sign-up' });
    expect(confirmation!.link).toMatch(/^https:\/\/app\.example\.com\/welcome\?token=su_/);
    expect(confirmation!.text).toContain(confirmation!.link!);
    const token = tokenOf(confirmation);
    expect(pending[0]!.tokenHash).not.toContain(token);
    expect(JSON.stringify(await db.pendingSignUp.findMany())).not.toContain(token);

    // The owner's account is untouched: their password still works, the new one does not.
    expect((await raw(t, LOG_IN, { login: taken, password: 'owner-password-1' })).body.data?.logIn.__typename).toBe('AuthPayload');
    expect((await raw(t, LOG_IN, { login: taken, password: 'a-new-password-9' })).body.data?.logIn).toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });

  it('the mailed token creates the account through confirmSignUp and signs it in; logIn works after; the token works once', async () => {
    const email = `${unique('ada')}@example.com`;
    const username = unique('ada');
    const signed = await raw(t, SIGN_UP, { input: { email, username, password: 'correct-horse-1', displayName: 'Ada' } });
    expect(signed.body.data?.signUp.__typename).toBe('SignUpPending');
    expect(await t.app.services.db.user.count({ where: { email } })).toBe(0);
    expect((await raw(t, LOG_IN, { login: email, password: 'correct-horse-1' })).body.data?.logIn.code).toBe('INVALID_CREDENTIALS');

    const token = tokenOf(mailsTo(t, email)[0]);
    const confirmed = await raw(t, CONFIRM, { token });
    const payload = confirmed.body.data?.confirmSignUp;
    expect(payload).toMatchObject({ __typename: 'AuthPayload', user: { email, username, displayName: 'Ada' } });
    // The session works.
    const me = await raw(t, ME, {}, payload.accessToken);
    expect(me.body.data?.me).toMatchObject({ id: payload.user.id, email, username });
    // So does logging in, by email and by username, with the password given at sign-up.
    expect((await raw(t, LOG_IN, { login: email, password: 'correct-horse-1' })).body.data?.logIn).toMatchObject({ user: { id: payload.user.id } });
    expect((await raw(t, LOG_IN, { login: username, password: 'correct-horse-1' })).body.data?.logIn).toMatchObject({ user: { id: payload.user.id } });
    expect(await t.app.services.db.pendingSignUp.count({ where: { email } })).toBe(0);

    // Used: NOT_FOUND, nothing changes.
    const before = await counts(t);
    const again = await raw(t, CONFIRM, { token });
    expect(again.body.data?.confirmSignUp).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await counts(t)).toEqual(before);

    // Signing up again with the now registered address answers as for any address.
    const later = await raw(t, SIGN_UP, { input: { email, password: 'correct-horse-1', displayName: 'Ada' } });
    expect(later.text).toBe(signed.text);
    expect(mailsTo(t, email).at(-1)).toMatchObject({ kind: 'signUpAttempted' });
  });

  it('an expired, unknown or garbage token is a typed error and changes nothing', async () => {
    const email = `${unique('late')}@example.com`;
    await raw(t, SIGN_UP, { input: { email, password: 'correct-horse-1', displayName: 'Late' } });
    const token = tokenOf(mailsTo(t, email)[0]);
    const db = t.app.services.db;
    await db.pendingSignUp.updateMany({ where: { email }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const before = await counts(t);

    for (const [bad, code] of [
      [token, 'NOT_FOUND'],
      [`su_${'A'.repeat(43)}`, 'NOT_FOUND'],
      ['garbage', 'NOT_FOUND'],
      ['   ', 'BAD_USER_INPUT'],
      ['x'.repeat(500), 'BAD_USER_INPUT'],
    ] as const) {
      const reply = await raw(t, CONFIRM, { token: bad });
      expect(reply.body.data?.confirmSignUp, bad.slice(0, 20)).toMatchObject({ code });
    }
    expect(await counts(t)).toEqual(before);
    expect(await db.user.count({ where: { email } })).toBe(0);
    // The unknown, used and expired answers are one: nothing to tell them apart.
    const expired = await raw(t, CONFIRM, { token });
    const unknown = await raw(t, CONFIRM, { token: 'garbage' });
    expect(expired.text).toBe(unknown.text);
  });

  it('a new link for the same address works too, and the first confirmation kills the other links', async () => {
    const email = `${unique('twice')}@example.com`;
    await raw(t, SIGN_UP, { input: { email, password: 'first-password-1', displayName: 'One' } });
    await raw(t, SIGN_UP, { input: { email, password: 'second-password-2', displayName: 'Two' } });
    const [first, second] = mailsTo(t, email).map(tokenOf);
    expect(first).not.toBe(second);
    const confirmed = await raw(t, CONFIRM, { token: second });
    expect(confirmed.body.data?.confirmSignUp).toMatchObject({ user: { displayName: 'Two' } });
    expect((await raw(t, CONFIRM, { token: first })).body.data?.confirmSignUp).toMatchObject({ code: 'NOT_FOUND' });
    expect(await t.app.services.db.user.count({ where: { email } })).toBe(1);
  });

  it('a taken username is CONFLICT at once, whatever the email (usernames are public handles); nothing stored, nothing mailed', async () => {
    const holder = unique('holder');
    const seeded = `${unique('seed')}@example.com`;
    await raw(t, SIGN_UP, { input: { email: seeded, username: holder, password: 'password-123', displayName: 'Holder' } });
    await raw(t, CONFIRM, { token: tokenOf(mailsTo(t, seeded)[0]) });
    const taken = `${unique('owner')}@example.com`;
    await registered(t, taken);
    const before = await counts(t);
    const mails = inbox(t).length;
    const replies = await Promise.all(
      [taken, `${unique('free')}@example.com`].map((email) =>
        raw(t, SIGN_UP, { input: { email, username: holder.toUpperCase(), password: 'password-123', displayName: 'X' } }),
      ),
    );
    for (const reply of replies) expect(reply.body.data?.signUp).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', field: 'username' });
    expect(replies[0]!.text).toBe(replies[1]!.text);
    expect(await counts(t)).toEqual(before);
    expect(inbox(t).length).toBe(mails);
  });

  it('a username taken between sign-up and confirmation: CONFLICT at confirmation, nothing changed, the link still pending', async () => {
    const name = unique('race');
    const first = `${unique('first')}@example.com`;
    const second = `${unique('second')}@example.com`;
    await raw(t, SIGN_UP, { input: { email: first, username: name, password: 'password-123', displayName: 'First' } });
    await raw(t, SIGN_UP, { input: { email: second, username: name, password: 'password-123', displayName: 'Second' } });
    expect((await raw(t, CONFIRM, { token: tokenOf(mailsTo(t, second)[0]) })).body.data?.confirmSignUp.__typename).toBe('AuthPayload');
    const before = await counts(t);
    const late = await raw(t, CONFIRM, { token: tokenOf(mailsTo(t, first)[0]) });
    expect(late.body.data?.confirmSignUp).toMatchObject({ code: 'CONFLICT', field: 'username' });
    expect(await counts(t)).toEqual(before);
    expect(await t.app.services.db.pendingSignUp.count({ where: { email: first } })).toBe(1);
  });

  it('a sign-up with a username only has no address to confirm: immediate, as before', async () => {
    const username = unique('handle');
    const reply = await raw(t, SIGN_UP, { input: { username, password: 'password-123', displayName: 'Handle' } });
    expect(reply.body.data?.signUp).toMatchObject({ __typename: 'AuthPayload', user: { username, email: null } });
  });

  it('legacy 003 sign-up: 202 with the same body for a free and a registered email; a handle without email, or a stand-in name, is immediate (201)', async () => {
    const post = (body: Record<string, string>) =>
      fetch(`${t.url}/accounts/api/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const taken = `${unique('legacyowner')}@example.com`;
    await registered(t, taken);
    const free = `${unique('legacynew')}@example.com`;
    const before = await counts(t);
    const a = await post({ username: unique('lega'), password: 'secret-pass-1', email: taken });
    const b = await post({ username: unique('legb'), password: 'secret-pass-1', email: free });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    const [aText, bText] = [await a.text(), await b.text()];
    expect(aText).toBe(bText);
    expect(JSON.parse(aText)).toEqual({ detail: expect.stringMatching(/confirmation link/) });
    expect(await counts(t)).toEqual({ ...before, pending: before.pending + 1 });
    expect(mailsTo(t, taken).at(-1)?.kind).toBe('signUpAttempted');
    expect(mailsTo(t, free).at(-1)?.kind).toBe('signUpConfirmation');

    const handle = await post({ username: unique('legc'), password: 'secret-pass-1' });
    expect(handle.status).toBe(201);
    // A legacy name outside the username rules maps to a stand-in address (.invalid), which no
    // mail reaches: immediate, and its conflict is the (public) name's.
    const standIn = unique('Leg+D');
    expect((await post({ username: standIn, password: 'secret-pass-1' })).status).toBe(201);
    expect((await post({ username: standIn, password: 'secret-pass-1' })).status).toBe(409);
  });
});

describe('SIGNUP_CONFIRMATION defaults, limits and the webhook transport', { timeout: 60_000 }, () => {
  it('is on by default in production, off otherwise; the link defaults to the first CORS origin', () => {
    const production = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), CORS_ORIGINS: 'https://app.example.com,https://b.example.com' });
    expect(production).toMatchObject({ SIGNUP_CONFIRMATION: true, SIGNUP_CONFIRMATION_URL: 'https://app.example.com/confirm-sign-up' });
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), CORS_ORIGINS: 'https://a.example', SIGNUP_CONFIRMATION: 'false' }).SIGNUP_CONFIRMATION).toBe(false);
    expect(loadConfig({}).SIGNUP_CONFIRMATION).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test' }).SIGNUP_CONFIRMATION).toBe(false);
    expect(() => loadConfig({ SIGNUP_CONFIRMATION_URL: 'javascript:alert(1)' })).toThrow(/SIGNUP_CONFIRMATION_URL/);
    expect(() => loadConfig({ MAIL_WEBHOOK_URL: 'ftp://relay' })).toThrow(/MAIL_WEBHOOK_URL/);
  });

  it('a production app answers SignUpPending and mails a link to its frontend', async () => {
    const t = await startTestApp({ NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.com' });
    try {
      const email = `${unique('prod')}@example.com`;
      const reply = await raw(t, SIGN_UP, { input: { email, password: 'password-123', displayName: 'Prod' } });
      expect(reply.body.data?.signUp.__typename).toBe('SignUpPending');
      expect(mailsTo(t, email)[0]?.link).toMatch(/^https:\/\/app\.example\.com\/confirm-sign-up\?token=su_/);
    } finally {
      await t.close();
    }
  });

  it('rate-limits confirmSignUp per address, and signUp per email address (taken or free alike)', async () => {
    const t = await startTestApp({ SIGNUP_CONFIRMATION: 'true', RATE_LIMIT_CONFIRM_SIGNUP_ADDRESS: '3/600', RATE_LIMIT_SIGNUP_EMAIL: '2/600' });
    try {
      for (let i = 0; i < 3; i++) expect((await raw(t, CONFIRM, { token: `guess-${i}` })).body.data?.confirmSignUp.code).toBe('NOT_FOUND');
      const refused = await raw(t, CONFIRM, { token: 'guess-3' });
      expect(refused.status).toBe(429);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'RATE_LIMIT_CONFIRM_SIGNUP_ADDRESS' });

      const taken = `${unique('limited')}@example.com`;
      await registered(t, taken);
      const free = `${unique('limitedfree')}@example.com`;
      for (const email of [taken, free]) {
        const input = { email, password: 'password-123', displayName: 'L' };
        expect((await raw(t, SIGN_UP, { input })).status).toBe(200);
        expect((await raw(t, SIGN_UP, { input: { ...input, email: email.toUpperCase() } })).status).toBe(200);
        const third = await raw(t, SIGN_UP, { input });
        expect(third.status).toBe(429);
        expect(third.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'RATE_LIMIT_SIGNUP_EMAIL' });
      }
      // Two mails each, no more.
      expect(mailsTo(t, taken)).toHaveLength(2);
      expect(mailsTo(t, free)).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  it('with MAIL_WEBHOOK_URL, each mail is POSTed to the relay as JSON (and kept out of the log inbox)', async () => {
    const received: Array<{ headers: IncomingMessage['headers']; body: MailMessage }> = [];
    let failures = 1;
    const relay = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // The first attempt fails: the mailer retries.
        if (failures-- > 0) return void res.writeHead(503).end();
        received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as MailMessage });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const t = await startTestApp({
      SIGNUP_CONFIRMATION: 'true',
      MAIL_WEBHOOK_URL: `http://127.0.0.1:${(relay.address() as AddressInfo).port}/mail`,
    });
    try {
      const email = `${unique('relayed')}@example.com`;
      const reply = await raw(t, SIGN_UP, { input: { email, password: 'password-123', displayName: 'R' } });
      expect(reply.body.data?.signUp.__typename).toBe('SignUpPending');
      await until(() => received.length === 1);
      expect(received[0]!.headers['content-type']).toBe('application/json');
      expect(received[0]!.body).toMatchObject({ to: email, kind: 'signUpConfirmation', subject: 'Confirm your sign-up' });
      const token = tokenOf(received[0]!.body);
      expect(inbox(t)).toHaveLength(0);
      expect((await raw(t, CONFIRM, { token })).body.data?.confirmSignUp.__typename).toBe('AuthPayload');
    } finally {
      await t.close();
      await new Promise((r) => relay.close(r));
    }
  });
});

describe('with SIGNUP_CONFIRMATION off (development and tests)', { timeout: 60_000 }, () => {
  it('signs up at once and says CONFLICT for a registered email, as before; confirmSignUp knows no token', async () => {
    const t = await startTestApp();
    try {
      const email = `${unique('dev')}@example.com`;
      const first = await raw(t, SIGN_UP, { input: { email, password: 'password-123', displayName: 'Dev' } });
      expect(first.body.data?.signUp).toMatchObject({ __typename: 'AuthPayload', user: { email } });
      const again = await raw(t, SIGN_UP, { input: { email, password: 'password-123', displayName: 'Dev' } });
      expect(again.body.data?.signUp).toMatchObject({ __typename: 'ConflictError', field: 'email' });
      expect(inbox(t)).toHaveLength(0);
      expect(await t.app.services.db.pendingSignUp.count()).toBe(0);
      expect((await raw(t, CONFIRM, { token: 'su_x' })).body.data?.confirmSignUp.code).toBe('NOT_FOUND');
    } finally {
      await t.close();
    }
  });
});
