/**
 * Legacy 003 (website chatbot): POST /accounts/api/signup and /accounts/api/login for admins.
 * Legacy usernames are product usernames (see docs/legacy-mapping.md): a legacy username that
 * follows the product's rules becomes the account's username and logs in as such, with or without
 * an email. One that is an email address is the account's email; any other (too short, reserved,
 * other characters) still maps to `<username>@users.legacy.invalid`, as before usernames existed.
 */
import { firstError } from './executor.js';
import type { Credential } from '../graphql/context.js';
import {
  Legacy003ChatbotDocument,
  Legacy003LogInDocument,
  Legacy003ViewerDocument,
  Legacy003SaveChatbotDocument,
  Legacy003SignUpDocument,
  type Legacy003ChatbotFragment,
  type Legacy003SessionFragment,
  type WidgetPosition,
} from './generated/graphql.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';
import { legacyAccount, legacyLogin } from './legacy-accounts.js';

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
  mount(router: Router): void {
    router.on('POST', '/accounts/api/signup', (req) => this.signup(req));
    router.on('POST', '/accounts/api/login', (req) => this.login(req));
    router.on('GET', '/chatbot/api', (req) => this.chatbot(req));
    router.on('POST', '/chatbot/api', (req) => this.saveChatbot(req));
  }

  /** The admin behind the token, and the first workspace where they are ADMIN. */
  private async admin(req: LegacyRequest): Promise<{ credential: Credential; workspaceId: string } | LegacyResponse> {
    const header = req.headers.authorization;
    const match = header ? /^(?:Bearer|Token|JWT)\s+(.+)$/i.exec(header) : null;
    if (!match) return { status: 401, body: { detail: 'Authentication credentials were not provided.' } };
    const credential: Credential = { kind: 'bearer', value: match[1]!.trim() };
    const me = await req.executor.run(Legacy003ViewerDocument, {}, credential);
    if (!me.data?.me) return { status: 401, body: { detail: firstError(me)?.message ?? 'Invalid token.' } };
    const workspaceId = me.data.me.memberships.find((m) => m.role === 'ADMIN')?.workspace.id;
    if (!workspaceId) return { status: 403, body: { detail: 'Only an admin has a chatbot; create a workspace first.' } };
    return { credential, workspaceId };
  }

  async chatbot(req: LegacyRequest): Promise<LegacyResponse> {
    const admin = await this.admin(req);
    if ('status' in admin) return admin;
    const result = await req.executor.run(Legacy003ChatbotDocument, { workspaceId: admin.workspaceId }, admin.credential);
    const settings = result.data?.chatbotSettings;
    if (!settings) return { status: 404, body: { detail: 'Not found.' } };
    return { status: 200, body: legacyChatbot(settings) };
  }

  async saveChatbot(req: LegacyRequest): Promise<LegacyResponse> {
    const admin = await this.admin(req);
    if ('status' in admin) return admin;
    const b = req.body;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const enabled = b.enabled === undefined ? undefined : b.enabled === true || b.enabled === 'true' || b.enabled === '1';
    const position = text(b.position)?.toUpperCase() as WidgetPosition | undefined;
    const result = await req.executor.run(
      Legacy003SaveChatbotDocument,
      {
        input: {
          workspaceId: admin.workspaceId,
          name: text(b.name),
          greeting: text(b.greeting),
          color: text(b.color),
          offlineMessage: text(b.offline_message),
          avatarUrl: text(b.avatar_url),
          position,
          enabled,
        },
      },
      admin.credential,
    );
    const saved = result.data?.updateChatbotSettings;
    if (saved?.__typename === 'ChatbotSettings') return { status: 200, body: legacyChatbot(saved) };
    if (saved && 'message' in saved) return { status: 400, body: { detail: saved.message } };
    return { status: 400, body: { detail: firstError(result)?.message ?? 'Invalid chatbot settings.' } };
  }

  async signup(req: LegacyRequest): Promise<LegacyResponse> {
    const username = field(req, 'username', 'Username');
    const password = field(req, 'password', 'Password');
    if (!username || !password) return { status: 400, body: { detail: 'username and password are required.' } };
    const result = await req.executor.run(
      Legacy003SignUpDocument,
      { input: { ...legacyAccount(username, field(req, 'email')), password, displayName: username.slice(0, 100) } },
      { kind: 'none' },
    );
    const payload = result.data?.signUp;
    if (payload?.__typename === 'AuthPayload') return { status: 201, body: session(payload, username) };
    // SIGNUP_CONFIRMATION with an email: the account waits for the link mailed to it, and the
    // answer is the same for a free and a registered address (docs/legacy-mapping.md).
    if (payload?.__typename === 'SignUpPending') return { status: 202, body: { detail: payload.message } };
    const error = payload && 'message' in payload ? payload.message : (firstError(result)?.message ?? 'Sign-up failed.');
    return { status: payload?.__typename === 'ConflictError' ? 409 : 400, body: { detail: error } };
  }

  async login(req: LegacyRequest): Promise<LegacyResponse> {
    const username = field(req, 'username', 'Username');
    const password = field(req, 'password', 'Password');
    if (!username || !password) return { status: 400, body: { detail: 'username and password are required.' } };
    const result = await req.executor.run(Legacy003LogInDocument, { input: { login: legacyLogin(username), password } }, { kind: 'none' });
    const payload = result.data?.logIn;
    if (payload?.__typename === 'AuthPayload') return { status: 200, body: session(payload, username) };
    return { status: 401, body: { detail: 'Invalid username or password.' } };
  }
}

/** The chatbot settings in the legacy snake_case shape. */
function legacyChatbot(s: Legacy003ChatbotFragment) {
  return {
    id: s.id,
    admin: s.adminId,
    name: s.name,
    greeting: s.greeting,
    color: s.color,
    offline_message: s.offlineMessage,
    enabled: s.enabled,
    avatar_url: s.avatarUrl,
    position: s.position.toLowerCase(),
    updated_at: s.updatedAt,
  };
}
