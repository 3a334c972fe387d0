/**
 * Identity over real HTTP and graphql-ws: sign up, log in, me, workspaces, API keys, guests;
 * and every refusal: typed, clear, and changing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { graphql } from './gql/index.js';
import { collect, startTestApp, TEST_JWT_SECRET, until, wsOnce, type TestApp } from './helpers/app.js';
import { person, workspace } from './helpers/fixtures.js';

const SignUp = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        refreshToken
        user {
          id
          email
          kind
        }
      }
      ... on Error {
        code
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
      ... on ConflictError {
        field
      }
    }
  }
`);

const LogIn = graphql(`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        refreshToken
        user {
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

const Me = graphql(`
  query Me {
    me {
      id
      email
      displayName
      kind
      memberships {
        role
        workspace {
          id
          name
        }
      }
    }
  }
`);

const CreateWorkspace = graphql(`
  mutation CreateWorkspace($name: String!) {
    createWorkspace(input: { name: $name }) {
      __typename
      ... on Workspace {
        id
        name
        viewerRole
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const UserSession = graphql(`
  query IdentityUserSession($id: ID!) {
    user(id: $id) {
      id
      sessionId
    }
  }
`);

const IssueApiKey = graphql(`
  mutation IssueApiKey($workspaceId: ID!, $name: String!) {
    issueApiKey(input: { workspaceId: $workspaceId, name: $name }) {
      __typename
      ... on IssuedApiKey {
        secret
        apiKey {
          id
          prefix
          revokedAt
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const RevokeApiKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      __typename
      ... on ApiKey {
        id
        revokedAt
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const WorkspaceQuery = graphql(`
  query Workspace($id: ID!) {
    workspace(id: $id) {
      id
      name
      viewerRole
      apiKeys {
        id
        name
      }
    }
  }
`);

const MyWorkspaces = graphql(`
  query MyWorkspaces {
    myWorkspaces {
      id
    }
  }
`);

const Refresh = graphql(`
  mutation Refresh($token: String!) {
    refreshSession(refreshToken: $token) {
      __typename
      ... on AuthPayload {
        accessToken
        refreshToken
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const GuestSession = graphql(`
  mutation GuestSession($input: GuestSessionInput!) {
    startGuestSession(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        sessionId
        user {
          id
          kind
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const CreateProduct = graphql(`
  mutation CreateProduct($input: CreateProductInput!) {
    createProduct(input: $input) {
      __typename
      ... on Product {
        id
        slug
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Products = graphql(`
  query Products($workspaceId: ID!, $audience: ProductAudience!) {
    products(workspaceId: $workspaceId, audience: $audience) {
      slug
      name
    }
  }
`);

const AddMember = graphql(`
  mutation AddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
      ... on Membership {
        role
        user {
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

const WorkspaceEvents = graphql(`
  subscription IdentityWorkspaceEvents($workspaceId: ID!) {
    workspaceEvents(workspaceId: $workspaceId) {
      type
      userId
      role
    }
  }
`);

const RemoveMember = graphql(`
  mutation IdentityRemoveMember($workspaceId: ID!, $userId: ID!) {
    removeWorkspaceMember(workspaceId: $workspaceId, userId: $userId) {
      __typename
    }
  }
`);

let t: TestApp;
let counter = 0;
const uniqueEmail = (tag: string) => `${tag}-${Date.now()}-${++counter}@example.com`;

async function signUp(email = uniqueEmail('user'), password = 'correct horse battery') {
  const res = await t.exec(SignUp, { input: { email, password, displayName: 'Test User' } });
  const payload = res.data!.signUp;
  if (payload.__typename !== 'AuthPayload') throw new Error(`sign-up failed: ${JSON.stringify(res)}`);
  return { ...payload, email, password };
}

async function workspaceFor(token: string, name = 'Acme') {
  const res = await t.exec(CreateWorkspace, { name }, { token });
  const ws = res.data!.createWorkspace;
  if (ws.__typename !== 'Workspace') throw new Error(`createWorkspace failed: ${JSON.stringify(res)}`);
  return ws;
}

async function userCount(): Promise<number> {
  return t.app.services.db.user.count();
}

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('the whole path over HTTP and graphql-ws', () => {
  it('signs up, logs in, reads me, creates a workspace, issues, uses and revokes an API key', async () => {
    const email = uniqueEmail('Alice');
    const signed = await t.exec(SignUp, { input: { email: `  ${email.toUpperCase()} `, password: 'correct horse battery', displayName: 'Alice' } });
    expect(signed.data!.signUp.__typename).toBe('AuthPayload');

    const login = await t.exec(LogIn, { input: { email, password: 'correct horse battery' } });
    const session = login.data!.logIn;
    expect(session.__typename).toBe('AuthPayload');
    if (session.__typename !== 'AuthPayload') return;

    const me = await t.exec(Me, undefined, { token: session.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toMatchObject({ email: email.toLowerCase(), displayName: 'Alice', kind: 'REGISTERED', memberships: [] });

    const ws = await workspaceFor(session.accessToken, 'Alice Inc');
    expect(ws).toMatchObject({ name: 'Alice Inc', viewerRole: 'ADMIN' });

    const issued = (await t.exec(IssueApiKey, { workspaceId: ws.id, name: 'backend' }, { token: session.accessToken })).data!.issueApiKey;
    expect(issued.__typename).toBe('IssuedApiKey');
    if (issued.__typename !== 'IssuedApiKey') return;
    expect(issued.secret).toMatch(/^ck_/);
    expect(issued.secret.startsWith(issued.apiKey.prefix)).toBe(true);
    // Only a hash is stored.
    const stored = await t.app.services.db.apiKey.findUniqueOrThrow({ where: { id: issued.apiKey.id } });
    expect(JSON.stringify(stored)).not.toContain(issued.secret);

    // The key authenticates a server-to-server caller for its workspace, as its admin.
    const viaKey = await t.exec(WorkspaceQuery, { id: ws.id }, { token: issued.secret });
    expect(viaKey.errors).toBeUndefined();
    expect(viaKey.data!.workspace).toMatchObject({ id: ws.id, viewerRole: 'ADMIN' });
    const viaHeader = await t.exec(MyWorkspaces, undefined, { headers: { 'x-api-key': issued.secret } });
    expect(viaHeader.data!.myWorkspaces).toEqual([{ id: ws.id }]);
    const product = await t.exec(
      CreateProduct,
      { input: { workspaceId: ws.id, slug: 'sales-agent', name: 'Sales agent' } },
      { token: issued.secret },
    );
    expect(product.data!.createProduct).toMatchObject({ __typename: 'Product', slug: 'sales-agent' });

    const revoked = await t.exec(RevokeApiKey, { id: issued.apiKey.id }, { token: session.accessToken });
    expect(revoked.data!.revokeApiKey).toMatchObject({ __typename: 'ApiKey', id: issued.apiKey.id });

    const after = await t.exec(WorkspaceQuery, { id: ws.id }, { token: issued.secret });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(after.errors?.[0]?.message).toMatch(/revoked/);
  });

  it('answers me over graphql-ws with the token in connectionParams', async () => {
    const user = await signUp();
    const client = t.ws({ token: user.accessToken });
    const result = await wsOnce(client, Me);
    expect(result.errors).toBeUndefined();
    expect(result.data!.me).toMatchObject({ id: user.user.id, email: user.email });
  });

  it('refuses a bad credential at connect with close code 4403 and a reason', async () => {
    const client = t.ws({ connectionParams: { authorization: 'Bearer not-a-jwt' } });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      client.on('closed', (event) => {
        const e = event as { code: number; reason: string };
        resolve({ code: e.code, reason: e.reason });
      });
      client.subscribe({ query: '{ me { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/access token is invalid/);
  });

  it('renews a session once: a refresh token works a single time', async () => {
    const user = await signUp();
    const first = (await t.exec(Refresh, { token: user.refreshToken })).data!.refreshSession;
    expect(first.__typename).toBe('AuthPayload');
    const again = (await t.exec(Refresh, { token: user.refreshToken })).data!.refreshSession;
    expect(again).toMatchObject({ __typename: 'UnauthenticatedError', code: 'UNAUTHENTICATED' });
    if (first.__typename !== 'AuthPayload') return;
    const me = await t.exec(Me, undefined, { token: first.accessToken });
    expect(me.data!.me!.id).toBe(user.user.id);
  });
});

describe('workspace events', () => {
  it('tells staff of members coming and going, and ends, FORBIDDEN, for staff who are removed', async () => {
    const ws = await workspace(t, { agent: 'AGENT', client: 'CLIENT' });
    const byAdmin = collect(t.ws({ token: ws.admin.token }), WorkspaceEvents, { workspaceId: ws.id });
    const byAgent = collect(t.ws({ token: ws.people.agent!.token }), WorkspaceEvents, { workspaceId: ws.id });
    const byClient = collect(t.ws({ token: ws.people.client!.token }), WorkspaceEvents, { workspaceId: ws.id });
    await byClient.completed;
    expect(byClient.results[0]!.errors![0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    // workspaceEvents has no "ready" event: add members until both staff subscriptions have heard one.
    await until(async () => {
      const newcomer = await person(t, 'newcomer');
      await t.exec(AddMember, { input: { workspaceId: ws.id, email: newcomer.email, role: 'CLIENT' } }, { token: ws.admin.token });
      await new Promise((r) => setTimeout(r, 50));
      return byAdmin.results.length > 0 && byAgent.results.length > 0;
    });
    expect(byAgent.results[0]!.data!.workspaceEvents).toMatchObject({ type: 'MEMBER_ADDED', role: 'CLIENT' });

    expect((await t.exec(RemoveMember, { workspaceId: ws.id, userId: ws.people.agent!.id }, { token: ws.admin.token })).data!.removeWorkspaceMember.__typename).toBe('Workspace');
    await byAgent.completed;
    expect(byAgent.results.at(-2)!.data!.workspaceEvents).toMatchObject({ type: 'MEMBER_REMOVED', userId: ws.people.agent!.id });
    expect(byAgent.results.at(-1)!.errors![0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    // The admin hears it and stays subscribed.
    await until(() => byAdmin.results.some((r) => r.data?.workspaceEvents.type === 'MEMBER_REMOVED'));
    expect(byAdmin.results.every((r) => !r.errors)).toBe(true);
    byAdmin.dispose();
  });
});

describe('bad input gets a clear, typed error and changes nothing', () => {
  it('refuses a duplicate email with CONFLICT, whatever its case', async () => {
    const user = await signUp();
    const before = await userCount();
    const res = await t.exec(SignUp, { input: { email: user.email.toUpperCase(), password: 'another password', displayName: 'Dup' } });
    expect(res.data!.signUp).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', field: 'email' });
    expect(await userCount()).toBe(before);
  });

  it('refuses invalid fields with a ValidationError naming the field', async () => {
    const before = await userCount();
    const res = await t.exec(SignUp, { input: { email: 'not-an-email', password: 'short', displayName: '' } });
    const payload = res.data!.signUp;
    expect(payload.__typename).toBe('ValidationError');
    if (payload.__typename !== 'ValidationError') return;
    expect(payload.code).toBe('BAD_USER_INPUT');
    const paths = payload.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(['input.email']);
    expect(payload.message).toMatch(/email: must be an email address/);
    const short = (await t.exec(SignUp, { input: { email: uniqueEmail('ok'), password: 'short', displayName: 'x' } })).data!.signUp;
    expect(short).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'password'], message: 'must be at least 8 characters' }] });
    expect(await userCount()).toBe(before);
  });

  it('gives the same error for a wrong password and an unknown user', async () => {
    const user = await signUp();
    const wrong = (await t.exec(LogIn, { input: { email: user.email, password: 'wrong password!' } })).data!.logIn;
    const unknown = (await t.exec(LogIn, { input: { email: uniqueEmail('nobody'), password: 'wrong password!' } })).data!.logIn;
    expect(wrong).toEqual({ __typename: 'InvalidCredentialsError', code: 'INVALID_CREDENTIALS', message: 'The email or password is incorrect.' });
    expect(unknown).toEqual(wrong);
  });

  it('refuses an expired and a forged JWT with UNAUTHENTICATED', async () => {
    const user = await signUp();
    const sign = (secret: string, exp: number) =>
      new SignJWT({ kind: 'user' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.user.id)
        .setIssuer('chat-backend')
        .setAudience('chat-api')
        .setIssuedAt(exp - 900)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(secret));
    const now = Math.floor(Date.now() / 1000);
    const expired = await t.exec(Me, undefined, { token: await sign(TEST_JWT_SECRET, now - 10) });
    expect(expired.status).toBe(401);
    expect(expired.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(expired.errors?.[0]?.message).toMatch(/expired.*refreshSession/);
    const forged = await t.exec(Me, undefined, { token: await sign('an-attacker-secret-that-is-long-enough-too', now + 600) });
    expect(forged.status).toBe(401);
    expect(forged.errors?.[0]?.message).toMatch(/invalid/);
    expect(forged.data ?? null).toBeNull();
    const garbage = await t.exec(Me, undefined, { headers: { authorization: 'Basic abc' } });
    expect(garbage.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // A token already verified (and remembered as such) is still refused once it expires.
    const shortLived = await sign(TEST_JWT_SECRET, now + 2);
    expect((await t.exec(Me, undefined, { token: shortLived })).data?.me).toMatchObject({ id: user.user.id });
    await until(() => Date.now() / 1000 >= now + 2, 5000);
    const lapsed = await t.exec(Me, undefined, { token: shortLived });
    expect(lapsed.status).toBe(401);
    expect(lapsed.errors?.[0]?.message).toMatch(/expired.*refreshSession/);
  });

  it('refuses malformed variables and stores nothing', async () => {
    const before = await userCount();
    const res = await t.exec(SignUp, { input: { email: 42, password: null } } as never);
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]?.message).toMatch(/Variable "\$input"/);
    expect(await userCount()).toBe(before);
  });

  it('answers NOT_FOUND for another workspace’s objects, exactly as for ids that do not exist', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const a = await workspaceFor(alice.accessToken, 'A');
    const b = await workspaceFor(bob.accessToken, 'B');
    const bKey = (await t.exec(IssueApiKey, { workspaceId: b.id, name: 'b' }, { token: bob.accessToken })).data!.issueApiKey;
    if (bKey.__typename !== 'IssuedApiKey') throw new Error('no key');
    const aKey = (await t.exec(IssueApiKey, { workspaceId: a.id, name: 'a' }, { token: alice.accessToken })).data!.issueApiKey;
    if (aKey.__typename !== 'IssuedApiKey') throw new Error('no key');

    const missing = await t.exec(WorkspaceQuery, { id: '8a0c0d3e-1111-4222-8333-944455556666' }, { token: alice.accessToken });
    const foreign = await t.exec(WorkspaceQuery, { id: b.id }, { token: alice.accessToken });
    const notAnId = await t.exec(WorkspaceQuery, { id: 'drop table users' }, { token: alice.accessToken });
    for (const res of [missing, foreign, notAnId]) {
      expect(res.data ?? null).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0]).toMatchObject({ message: 'Workspace not found.', extensions: { code: 'NOT_FOUND' } });
    }
    // A user's id that is not an id at all is NOT_FOUND too (not a database error).
    const userNotAnId = await t.exec(UserSession, { id: 'drop table users' }, { token: alice.accessToken });
    expect(userNotAnId.errors![0]).toMatchObject({ message: 'User not found.', extensions: { code: 'NOT_FOUND' } });
    // An API key of A is confined to A too.
    const keyForeign = await t.exec(WorkspaceQuery, { id: b.id }, { token: aKey.secret });
    expect(keyForeign.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    // Writes: revoking B's key or issuing one for B changes nothing.
    const revoke = await t.exec(RevokeApiKey, { id: bKey.apiKey.id }, { token: alice.accessToken });
    expect(revoke.data!.revokeApiKey).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const issue = await t.exec(IssueApiKey, { workspaceId: b.id, name: 'x' }, { token: aKey.secret });
    expect(issue.data!.issueApiKey).toMatchObject({ __typename: 'NotFoundError' });
    const bKeyRow = await t.app.services.db.apiKey.findUniqueOrThrow({ where: { id: bKey.apiKey.id } });
    expect(bKeyRow.revokedAt).toBeNull();
    expect(await t.app.services.db.apiKey.count({ where: { workspaceId: b.id } })).toBe(1);
    // Adding oneself to B is refused.
    const add = await t.exec(AddMember, { input: { workspaceId: b.id, email: alice.email, role: 'ADMIN' } }, { token: alice.accessToken });
    expect(add.data!.addWorkspaceMember).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('applies rules by role: a CLIENT sees the client product list, not the admin one, and cannot issue keys', async () => {
    const admin = await signUp();
    const client = await signUp();
    const ws = await workspaceFor(admin.accessToken);
    await t.exec(CreateProduct, { input: { workspaceId: ws.id, slug: 'internal', name: 'Internal', forClients: false } }, { token: admin.accessToken });
    await t.exec(CreateProduct, { input: { workspaceId: ws.id, slug: 'public', name: 'Public' } }, { token: admin.accessToken });
    const added = await t.exec(AddMember, { input: { workspaceId: ws.id, email: client.email, role: 'CLIENT' } }, { token: admin.accessToken });
    expect(added.data!.addWorkspaceMember).toMatchObject({ __typename: 'Membership', role: 'CLIENT' });

    const clientList = await t.exec(Products, { workspaceId: ws.id, audience: 'CLIENT' }, { token: client.accessToken });
    expect(clientList.data!.products.map((p) => p.slug)).toEqual(['public']);
    const adminList = await t.exec(Products, { workspaceId: ws.id, audience: 'ADMIN' }, { token: client.accessToken });
    expect(adminList.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    const adminView = await t.exec(Products, { workspaceId: ws.id, audience: 'ADMIN' }, { token: admin.accessToken });
    expect(adminView.data!.products.map((p) => p.slug).sort()).toEqual(['internal', 'public']);
    const issue = await t.exec(IssueApiKey, { workspaceId: ws.id, name: 'nope' }, { token: client.accessToken });
    expect(issue.data!.issueApiKey).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('gives a guest its own identity, reaching only its own workspace', async () => {
    const admin = await signUp();
    const ws = await workspaceFor(admin.accessToken);
    const start = (await t.exec(GuestSession, { input: { workspaceId: ws.id, sessionId: 'visitor-session-1' } })).data!.startGuestSession;
    expect(start).toMatchObject({ __typename: 'AuthPayload', sessionId: 'visitor-session-1', user: { kind: 'GUEST' } });
    if (start.__typename !== 'AuthPayload') return;
    const again = (await t.exec(GuestSession, { input: { workspaceId: ws.id, sessionId: 'visitor-session-1' } })).data!.startGuestSession;
    expect(again).toMatchObject({ user: { id: start.user.id } });
    const me = await t.exec(Me, undefined, { token: start.accessToken });
    expect(me.data!.me).toMatchObject({ id: start.user.id, kind: 'GUEST', email: null });
    // A guest may not create workspaces or read staff lists.
    const create = await t.exec(CreateWorkspace, { name: 'Mine' }, { token: start.accessToken });
    expect(create.data!.createWorkspace).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const staff = await t.exec(Products, { workspaceId: ws.id, audience: 'ADMIN' }, { token: start.accessToken });
    expect(staff.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    const unknownWs = (await t.exec(GuestSession, { input: { workspaceId: '8a0c0d3e-1111-4222-8333-944455556666' } })).data!.startGuestSession;
    expect(unknownWs).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('shows a guest’s session id only to the guest and to API keys of its workspace', async () => {
    const admin = await signUp();
    const ws = await workspaceFor(admin.accessToken);
    const start = (await t.exec(GuestSession, { input: { workspaceId: ws.id, sessionId: 'visitor-session-2' } })).data!.startGuestSession;
    if (start.__typename !== 'AuthPayload') throw new Error('guest');
    const issued = (await t.exec(IssueApiKey, { workspaceId: ws.id, name: 'shim' }, { token: admin.accessToken })).data!.issueApiKey;
    if (issued.__typename !== 'IssuedApiKey') throw new Error('key');
    const read = async (token: string) => (await t.exec(UserSession, { id: start.user.id }, { token })).data?.user.sessionId;
    expect(await read(start.accessToken)).toBe('visitor-session-2');
    expect(await read(issued.secret)).toBe('visitor-session-2');
    // Even the workspace's admin does not see it: it would let them act as the visitor.
    expect(await read(admin.accessToken)).toBeNull();
  });

  it('asks anonymous callers to sign in', async () => {
    const res = await t.exec(CreateWorkspace, { name: 'x' });
    expect(res.data!.createWorkspace).toMatchObject({ __typename: 'UnauthenticatedError', code: 'UNAUTHENTICATED' });
    const me = await t.exec(Me);
    expect(me.data!.me).toBeNull();
  });
});
