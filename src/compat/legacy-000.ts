/**
 * Legacy 000 (DowellChat): the web support page, the sales-agent app and the customer-support
 * mobile app, all REST with no authentication of their own. A `session_id` is a website visitor
 * (a guest of the legacy workspace); calls that name no one (product and room lists, reading a
 * room) run as the shim's API key; a message posted with `user_id` is written by the key on
 * behalf of that user (sendMessage asUserId). Every call is a GraphQL operation run through the
 * executor; docs/legacy-mapping.md lists them with the choices made where the document is vague.
 */
import { isUuid } from '../ids.js';
import type { Credential } from '../graphql/context.js';
import type { LegacyCredentials } from './credentials.js';
import type { Executor } from './executor.js';
import { minuteTimestamp } from './formats.js';
import {
  Legacy000CreatePortfolioDocument,
  Legacy000DeleteRoomDocument,
  Legacy000IsRoomDocument,
  Legacy000OpenSalesAgentRoomDocument,
  Legacy000OrganizationsDocument,
  Legacy000ProductsDocument,
  Legacy000RoomDocument,
  Legacy000RoomListDocument,
  Legacy000SendDocument,
  Legacy000VisitorRoomsDocument,
  type Legacy000RoomFragment,
  type MessageSide,
} from './generated/graphql.js';
import type { LegacyRequest, LegacyResponse, Router } from './rest/router.js';

/** Messages in a room answer: the newest this many (the product pages at most 100). */
const HISTORY = 100;
/** Rooms in a room_list answer. */
const ROOM_LIST = 100;
/** The product legacy sales-agent rooms are about (legacy lower-cases product names into keys). */
const SALES_AGENT = 'sales-agent';

const notFound: LegacyResponse = { status: 404, body: { detail: 'Not found.' } };
const deleted: LegacyResponse = { status: 200, body: { status: 'Room deleted successfully' } };

function required(name: string): LegacyResponse {
  return { status: 400, body: { detail: `The ${name} parameter is required.` } };
}

/** A parameter from the query string or the body (form or JSON), as legacy clients send either. */
function param(req: LegacyRequest, name: string): string | undefined {
  const fromQuery = req.query.get(name);
  if (fromQuery && fromQuery.trim()) return fromQuery.trim();
  const v = req.body[name];
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** Legacy `side`: true is the staff (receiver) side, false the visitor's; absent leaves it to the product. */
function side(value: unknown): MessageSide | null {
  if (value === true || value === 1) return 'RIGHT';
  if (value === false || value === 0) return 'LEFT';
  if (typeof value !== 'string') return null;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return 'RIGHT';
  if (v === 'false' || v === '0') return 'LEFT';
  return null;
}

/** The legacy message list of a room, as `send_message/<pk>/` and the room answers show it. */
function legacyMessages(room: Legacy000RoomFragment) {
  const sessionOf = new Map(room.members.map((m) => [m.user.id, m.user.sessionId ?? null]));
  const visitor = room.visitor;
  return room.messages.nodes.map((m) => {
    // The welcome message has no author in the product; legacy 000 wrote it as the visitor's portfolio.
    const authorId = m.author?.id ?? visitor?.id ?? null;
    const read = m.author
      ? room.members.some((x) => x.user.id !== m.author!.id && x.lastReadSeq >= m.seq)
      : true;
    return {
      id: m.id,
      timestamp: minuteTimestamp(m.createdAt),
      room_id: m.conversationId,
      read,
      message: m.body,
      message_type: m.kind === 'IMAGE' ? 'IMAGE' : 'TEXT',
      side: m.side ? m.side === 'RIGHT' : m.author?.id !== visitor?.id,
      author: { id: authorId, session_id: authorId ? (sessionOf.get(authorId) ?? null) : null },
    };
  });
}

export class Legacy000 {
  constructor(private readonly credentials: LegacyCredentials) {}

  mount(router: Router): void {
    router.on('GET', '/create-user-profile', (req) => this.createUserProfile(req));
    router.on('GET', '/admin_product_list', (req) => this.productList(req, 'admin'));
    router.on('GET', '/client_product_list', (req) => this.productList(req, 'client'));
    router.on('GET', '/product_list', (req) => this.productList(req, 'all'));
    router.on('GET', '/room_list/:product/:organization', (req) => this.roomList(req));
    for (const prefix of ['/send_message', '/send']) {
      router.on('GET', `${prefix}/:pk`, (req) => this.messages(req.executor, req.params.pk!));
      router.on('POST', `${prefix}/:pk`, (req) => this.post(req));
    }
    router.on('GET', '/delete-customer-support-room', (req) => this.deleteRoom(req));
    router.on('GET', '/delete-customer-support-mobile', (req) => this.deleteRoom(req));
    router.on('GET', '/dowell-api/create-room/sales-agent', (req) => this.salesAgentRoom(req));
    router.on('GET', '/dowell-api/sender-delete-room/sales-agent', (req) => this.deleteSalesAgentRoom(req));
    // Documented as GET with a body; the legacy app posts it.
    router.on('GET', '/create-portfolio-mobile', (req) => this.createPortfolioMobile(req));
    router.on('POST', '/create-portfolio-mobile', (req) => this.createPortfolioMobile(req));
  }

  /** The visitor of a session_id, or the legacy error to answer. */
  private async visitor(req: LegacyRequest, displayName?: string): Promise<{ credential: Credential; userId: string } | LegacyResponse> {
    const sessionId = param(req, 'session_id');
    if (!sessionId) return required('session_id');
    const identity = await this.credentials.guest(req.executor, sessionId, displayName);
    if (!identity) return { status: 400, body: { detail: 'Invalid session_id: 8 to 128 letters, digits, or . _ : -' } };
    return identity;
  }

  /** GET create-user-profile/?session_id= */
  async createUserProfile(req: LegacyRequest): Promise<LegacyResponse> {
    const who = await this.visitor(req);
    if ('status' in who) return who;
    const result = await req.executor.run(Legacy000CreatePortfolioDocument, {}, who.credential);
    const p = result.data?.createPortfolio;
    if (p?.__typename !== 'Portfolio') return { status: 400, body: { detail: p && 'message' in p ? p.message : 'The portfolio was not created.' } };
    return {
      status: 200,
      body: { status: 200, portfolio: { portfolio_name: p.name, userID: p.user.id, organization: p.organization?.id ?? null } },
    };
  }

  /** GET admin_product_list/, client_product_list/, product_list/ (admin then client products). */
  async productList(req: LegacyRequest, which: 'admin' | 'client' | 'all'): Promise<LegacyResponse> {
    const workspaceId = await this.credentials.workspaceId();
    const result = await req.executor.run(Legacy000ProductsDocument, { workspaceId }, this.credentials.service());
    if (!result.data) throw new Error(`products: ${JSON.stringify(result.errors)}`);
    const admin = result.data.admin.map((p) => p.name);
    const client = result.data.client.map((p) => p.name);
    const list = which === 'admin' ? admin : which === 'client' ? client : [...new Set([...admin, ...client])];
    return { status: 200, body: { product_list: list } };
  }

  /** GET room_list/<product>/<organization_id> */
  async roomList(req: LegacyRequest): Promise<LegacyResponse> {
    const workspaceId = await this.credentials.workspaceId();
    const service = this.credentials.service();
    const orgParam = req.params.organization!;
    const orgs = await req.executor.run(Legacy000OrganizationsDocument, { workspaceId }, service);
    const organization = orgs.data?.workspace.organizations.find((o) => o.id === orgParam.toLowerCase() || o.name === orgParam);
    const result = await req.executor.run(
      Legacy000RoomListDocument,
      { workspaceId, productSlug: req.params.product!.toLowerCase(), organizationId: organization?.id ?? null, first: ROOM_LIST },
      service,
    );
    const rooms = (result.data?.rooms.nodes ?? []).map((r) => ({
      room_id: r.id,
      room_name: r.name,
      company: r.organization?.id ?? null,
      r_session: r.visitor?.sessionId ?? null,
    }));
    const first = rooms[0] ?? null;
    let messages: ReturnType<typeof legacyMessages> = [];
    if (first) {
      const room = await req.executor.run(Legacy000RoomDocument, { id: first.room_id, last: HISTORY }, service);
      if (room.data?.conversation.__typename === 'Room') messages = legacyMessages(room.data.conversation);
    }
    return { status: 200, body: { rooms, firstroom: first, messages } };
  }

  /** GET send_message/<pk>/ and send/<pk>/ */
  async messages(executor: Executor, pk: string): Promise<LegacyResponse> {
    if (!isUuid(pk)) return notFound;
    const result = await executor.run(Legacy000RoomDocument, { id: pk, last: HISTORY }, this.credentials.service());
    const room = result.data?.conversation;
    if (room?.__typename !== 'Room') return notFound;
    return { status: 200, body: { messages: legacyMessages(room), room_pk: room.id } };
  }

  /**
   * POST send_message/<pk>/ {message, user_id, message_type, org_id} and send/<pk>/ {message,
   * user_id, side}: written by `user_id` (a product user id, as `userID`, `portfolio` and
   * `author.id` give it), or by the visitor of `session_id` when the body names one instead.
   */
  async post(req: LegacyRequest): Promise<LegacyResponse> {
    const pk = req.params.pk!;
    if (!isUuid(pk)) return notFound;
    const message = req.body.message;
    if (typeof message !== 'string' || !message.trim()) return required('message');
    const input = {
      conversationId: pk,
      body: message,
      kind: String(req.body.message_type ?? '').trim().toLowerCase() === 'image' ? ('IMAGE' as const) : ('TEXT' as const),
      side: side(req.body.side),
    };
    // Only rooms are 000's: a thread's or ticket's id is as unknown here as any other.
    const kind = await req.executor.run(Legacy000IsRoomDocument, { id: pk }, this.credentials.service());
    if (kind.data?.conversation.__typename !== 'Room') return notFound;
    const userId = param(req, 'user_id');
    let sent;
    if (userId) {
      if (!isUuid(userId)) return { status: 404, body: { detail: 'Wrong user_id, user not found.' } };
      sent = await req.executor.run(Legacy000SendDocument, { input: { ...input, asUserId: userId } }, this.credentials.service());
    } else if (param(req, 'session_id')) {
      const who = await this.visitor(req);
      if ('status' in who) return who;
      sent = await req.executor.run(Legacy000SendDocument, { input }, who.credential);
    } else {
      return required('user_id');
    }
    const out = sent.data?.sendMessage;
    if (out?.__typename !== 'Message') {
      if (!out || !('code' in out)) throw new Error(`sendMessage: ${JSON.stringify(sent.errors)}`);
      if (out.__typename === 'NotFoundError') return out.entity === 'User' ? { status: 404, body: { detail: 'Wrong user_id, user not found.' } } : notFound;
      if (out.code === 'FORBIDDEN') return { status: 403, body: { detail: out.message } };
      if (out.code === 'CONFLICT') return { status: 409, body: { detail: out.message } };
      return { status: 400, body: { detail: out.message } };
    }
    return this.messages(req.executor, pk);
  }

  /** GET dowell-api/create-room/sales-agent/?session_id= */
  async salesAgentRoom(req: LegacyRequest): Promise<LegacyResponse> {
    const who = await this.visitor(req);
    if ('status' in who) return who;
    return this.openSalesAgentRoom(req, who);
  }

  private async openSalesAgentRoom(req: LegacyRequest, who: { credential: Credential; userId: string }): Promise<LegacyResponse> {
    const workspaceId = await this.credentials.workspaceId();
    const open = (productSlug: string | null) =>
      req.executor.run(Legacy000OpenSalesAgentRoomDocument, { input: { workspaceId, ...(productSlug ? { productSlug } : {}) }, last: HISTORY }, who.credential);
    let result = await open(SALES_AGENT);
    // A workspace without a "sales-agent" product still takes sales-agent rooms, about no product.
    if (result.data?.openSalesAgentRoom.__typename === 'NotFoundError' && result.data.openSalesAgentRoom.entity === 'Product') result = await open(null);
    const room = result.data?.openSalesAgentRoom;
    if (room?.__typename !== 'Room') {
      return { status: 400, body: { detail: room && 'message' in room ? room.message : 'The room was not opened.' } };
    }
    return {
      status: 200,
      body: {
        session_id: param(req, 'session_id'),
        product: SALES_AGENT,
        portfolio: who.userId,
        messages: legacyMessages(room),
        room_pk: room.id,
      },
    };
  }

  /**
   * GET or POST create-portfolio-mobile/ {username, user_id, session_id, org_id}: the signed-in
   * mobile customer's portfolio (named `username`, under `org_id` when that names an
   * organization), then their sales-agent room, answered as create-room/sales-agent does.
   */
  async createPortfolioMobile(req: LegacyRequest): Promise<LegacyResponse> {
    const username = param(req, 'username');
    const who = await this.visitor(req, username?.slice(0, 100));
    if ('status' in who) return who;
    const orgId = param(req, 'org_id');
    const create = (organizationId: string | null) =>
      req.executor.run(
        Legacy000CreatePortfolioDocument,
        { input: { ...(username ? { name: username.slice(0, 100) } : {}), ...(organizationId ? { organizationId } : {}) } },
        who.credential,
      );
    let portfolio = await create(orgId && isUuid(orgId) ? orgId : null);
    // An org_id the workspace does not know (a legacy Dowell org id): the portfolio is under none.
    if (portfolio.data?.createPortfolio.__typename === 'NotFoundError') portfolio = await create(null);
    const p = portfolio.data?.createPortfolio;
    if (p?.__typename !== 'Portfolio') return { status: 400, body: { detail: p && 'message' in p ? p.message : 'The portfolio was not created.' } };
    return this.openSalesAgentRoom(req, who);
  }

  /** GET delete-customer-support-room/ and delete-customer-support-mobile/ ?session_id=&room_id= */
  async deleteRoom(req: LegacyRequest): Promise<LegacyResponse> {
    const roomId = param(req, 'room_id');
    if (!param(req, 'session_id')) return required('session_id');
    if (!roomId) return required('room_id');
    const who = await this.visitor(req);
    if ('status' in who) return who;
    if (!isUuid(roomId)) return notFound;
    const result = await req.executor.run(Legacy000DeleteRoomDocument, { id: roomId }, who.credential);
    return result.data?.deleteRoom.__typename === 'DeletedRoom' ? deleted : notFound;
  }

  /** GET dowell-api/sender-delete-room/sales-agent/?session_id=&product=: the visitor's own sales-agent room for the product. */
  async deleteSalesAgentRoom(req: LegacyRequest): Promise<LegacyResponse> {
    const product = param(req, 'product')?.toLowerCase();
    if (!param(req, 'session_id')) return required('session_id');
    if (!product) return required('product');
    const who = await this.visitor(req);
    if ('status' in who) return who;
    const workspaceId = await this.credentials.workspaceId();
    const mine = await req.executor.run(Legacy000VisitorRoomsDocument, { workspaceId }, who.credential);
    const rooms = (mine.data?.rooms.nodes ?? []).filter((r) => (r.product?.slug.toLowerCase() ?? SALES_AGENT) === product);
    if (rooms.length === 0) return notFound;
    for (const room of rooms) await req.executor.run(Legacy000DeleteRoomDocument, { id: room.id }, who.credential);
    return deleted;
  }
}
