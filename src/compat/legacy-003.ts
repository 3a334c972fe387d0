/**
 * Legacy 003 (website chatbot): POST /accounts/api/signup and /accounts/api/login for admins.
 * Legacy accounts have a username and no email: a username that is not an email address maps to
 * `<username>@users.legacy.invalid` (see docs/legacy-mapping.md), so the same username logs in.
 */
import { firstError, type Executor } from './executor.js';
import { Legacy003LogInDocument, Legacy003SignUpDocument, type Legacy003SessionFragment } from './generated/graphql.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';

export const LEGACY_EMAIL_DOMAIN = 'users.legacy.invalid';

/** The product email for a legacy username (an email address stays as it is). */
export function legacyEmail(username: string): string {
  const u = username.trim().toLowerCase();
  return u.includes('@') ? u : `${u}@${LEGACY_EMAIL_DOMAIN}`;
}

function field(req: LegacyRequest, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = req.body[name];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return undefined;
}

function session(s: Legacy003SessionFragment, username: string) {
  return { token: s.accessToken, refresh: s.refreshToken, username, user_id: s.user.id };
}

export class Legacy003 {
  constructor(private readonly executor: Executor) {}

  mount(router: Router): void {
    router.on('POST', '/accounts/api/signup', (req) => this.signup(req));
    router.on('POST', '/accounts/api/login', (req) => this.login(req));
  }

  async signup(req: LegacyRequest): Promise<LegacyResponse> {
    const username = field(req, 'username', 'Username');
    const password = field(req, 'password', 'Password');
    if (!username || !password) return { status: 400, body: { detail: 'username and password are required.' } };
    const email = field(req, 'email') ?? legacyEmail(username);
    const result = await this.executor.run(
      Legacy003SignUpDocument,
      { input: { email, password, displayName: username.slice(0, 100) } },
      { kind: 'none' },
    );
    const payload = result.data?.signUp;
    if (payload?.__typename === 'AuthPayload') return { status: 201, body: session(payload, username) };
    const error = payload && 'message' in payload ? payload.message : (firstError(result)?.message ?? 'Sign-up failed.');
    return { status: payload?.__typename === 'ConflictError' ? 409 : 400, body: { detail: error } };
  }

  async login(req: LegacyRequest): Promise<LegacyResponse> {
    const username = field(req, 'username', 'Username');
    const password = field(req, 'password', 'Password');
    if (!username || !password) return { status: 400, body: { detail: 'username and password are required.' } };
    const result = await this.executor.run(Legacy003LogInDocument, { input: { email: legacyEmail(username), password } }, { kind: 'none' });
    const payload = result.data?.logIn;
    if (payload?.__typename === 'AuthPayload') return { status: 200, body: session(payload, username) };
    return { status: 401, body: { detail: 'Invalid username or password.' } };
  }
}
