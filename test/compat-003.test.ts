/** Legacy 003 accounts through the shim, posted as a browser form and as JSON. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';

const Me = graphql(`
  query Legacy003Me {
    me {
      id
      displayName
    }
  }
`);

const MeFull = graphql(`
  query Legacy003MeFull {
    me {
      id
      username
      email
    }
  }
`);

const CreateWorkspace = graphql(`
  mutation Legacy003TestWorkspace($name: String!) {
    createWorkspace(input: { name: $name }) {
      __typename
    }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const form = (fields: Record<string, string>) => {
  const body = new FormData();
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
};

describe('legacy 003 accounts', () => {
  it('signs up with a form and logs in with JSON; the token works on the GraphQL API', async () => {
    const username = `admin${Date.now()}`;
    const signup = await fetch(`${t.url}/accounts/api/signup`, { method: 'POST', body: form({ username, password: 'secret-pass-1' }) });
    expect(signup.status).toBe(201);
    const created = (await signup.json()) as { token: string; username: string; user_id: string };
    expect(created).toMatchObject({ username });
    const again = await fetch(`${t.url}/accounts/api/signup/`, { method: 'POST', body: form({ username, password: 'secret-pass-1' }) });
    expect(again.status).toBe(409);

    const login = await fetch(`${t.url}/accounts/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'secret-pass-1' }),
    });
    expect(login.status).toBe(200);
    const session = (await login.json()) as { token: string; user_id: string };
    expect(session.user_id).toBe(created.user_id);
    const me = await t.exec(Me, {}, { token: session.token });
    expect(me.data!.me).toMatchObject({ id: created.user_id, displayName: username });
  });

  it('signs up with the document’s {username, password, email} and logs in by username (any case) and by email', async () => {
    const username = `Ada${Date.now()}`;
    const email = `${username.toLowerCase()}@example.com`;
    const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const signup = await fetch(`${t.url}/accounts/api/signup`, json({ username, password: 'secret-pass-1', email }));
    expect(signup.status).toBe(201);
    const created = (await signup.json()) as { token: string; refresh: string; username: string; user_id: string };
    expect(created).toEqual({ token: expect.any(String), refresh: expect.any(String), username, user_id: expect.any(String) });

    for (const login of [username, username.toLowerCase(), email]) {
      const res = await fetch(`${t.url}/accounts/api/login`, json({ username: login, password: 'secret-pass-1' }));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ token: expect.any(String), refresh: expect.any(String), username: login, user_id: created.user_id });
    }
    const wrong = await fetch(`${t.url}/accounts/api/login`, json({ username, password: 'wrong-pass-1' }));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ detail: 'Invalid username or password.' });
    // The username is the account's, with the email beside it.
    const me = await t.exec(MeFull, {}, { token: created.token });
    expect(me.data!.me).toEqual({ id: created.user_id, username, email });
    // Taken whatever its case, with or without an email.
    const taken = await fetch(`${t.url}/accounts/api/signup`, json({ username: username.toUpperCase(), password: 'secret-pass-1' }));
    expect(taken.status).toBe(409);
  });

  it('keeps an admin’s chatbot settings through GET and POST /chatbot/api', async () => {
    const username = `bot${Date.now()}`;
    const signup = await fetch(`${t.url}/accounts/api/signup`, { method: 'POST', body: form({ username, password: 'secret-pass-1' }) });
    const { token } = (await signup.json()) as { token: string };
    const auth = { authorization: `Token ${token}` };
    // No workspace yet: no chatbot to have.
    expect((await fetch(`${t.url}/chatbot/api`, { headers: auth })).status).toBe(403);
    await t.exec(CreateWorkspace, { name: 'Bot Inc' }, { token });
    expect((await fetch(`${t.url}/chatbot/api`, { headers: auth })).status).toBe(404);
    const saved = await fetch(`${t.url}/chatbot/api`, {
      method: 'POST',
      headers: auth,
      body: form({ name: 'Helper', greeting: 'Welcome!', color: '#112233', enabled: 'true' }),
    });
    expect(saved.status).toBe(200);
    const read = (await (await fetch(`${t.url}/chatbot/api/`, { headers: auth })).json()) as Record<string, unknown>;
    expect(read).toMatchObject({ name: 'Helper', greeting: 'Welcome!', color: '#112233', enabled: true, position: 'bottom_right' });
    const bad = await fetch(`${t.url}/chatbot/api`, { method: 'POST', headers: auth, body: form({ color: 'not a colour' }) });
    expect(bad.status).toBe(400);
    expect((await (await fetch(`${t.url}/chatbot/api`, { headers: auth })).json()) as Record<string, unknown>).toMatchObject({ color: '#112233' });
    expect((await fetch(`${t.url}/chatbot/api`)).status).toBe(401);
  });

  it('refuses bad input the legacy way', async () => {
    const wrong = await fetch(`${t.url}/accounts/api/login`, { method: 'POST', body: form({ username: 'nobody', password: 'x' }) });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ detail: 'Invalid username or password.' });
    const missing = await fetch(`${t.url}/accounts/api/signup`, { method: 'POST', body: form({ username: 'x' }) });
    expect(missing.status).toBe(400);
    const malformed = await fetch(`${t.url}/accounts/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { detail: string }).detail).toMatch(/JSON parse error/);
    const method = await fetch(`${t.url}/accounts/api/login`);
    expect(method.status).toBe(405);
  });
});
