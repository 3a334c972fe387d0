/**
 * Who may read and write a conversation:
 * - its members, always;
 * - staff (ADMIN, AGENT) and API keys of its workspace, for rooms, tickets and agent/client
 *   threads (they serve them), but never for a one-to-one thread they are not part of;
 * - nobody else: a guest or client reaches only conversations they are a member of.
 * Anything else is NOT_FOUND, exactly as for an id that does not exist.
 */
import { actingAs, isStaff } from '../../graphql/permissions.js';
import type { ConversationKind, MemberRole, RoomType } from '../../generated/prisma/enums.js';
import { actingUserId, roleIn, type Viewer } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { loadOnce } from '../../graphql/request-cache.js';

export interface ConversationHead {
  id: string;
  workspaceId: string;
  kind: ConversationKind;
  roomType: RoomType | null;
  uniqueKey: string | null;
  direct: boolean;
  lastSeq: number;
  /** The customer numbering's last seq (visibility.ts). */
  lastPublicSeq: number;
}

export interface Access {
  conversation: ConversationHead;
  /** The viewer's membership, when they are a member. */
  member: { role: MemberRole; lastReadSeq: number } | null;
  /** Staff reaching it through their role rather than membership. */
  viaRole: boolean;
}

export const headSelect = {
  id: true,
  workspaceId: true,
  kind: true,
  roomType: true,
  uniqueKey: true,
  direct: true,
  lastSeq: true,
  lastPublicSeq: true,
} as const;

/** Whether the viewer reaches the conversation by role (without being a member). */
export function reachesByRole(viewer: Viewer, c: Pick<ConversationHead, 'workspaceId' | 'direct'>): boolean {
  const role = roleIn(viewer, c.workspaceId);
  if (viewer.kind === 'guest' || (role !== 'ADMIN' && role !== 'AGENT')) return false;
  return !c.direct;
}

/**
 * Loads a conversation with the viewer's membership in one query and checks access; throws
 * NOT_FOUND when the viewer may not reach it.
 */
export async function loadAccess(ctx: Context, rawId: string | number): Promise<Access> {
  const id = parseId(rawId, 'Conversation');
  const userId = actingUserId(ctx.viewer);
  const row = await ctx.db.conversation.findUnique({
    where: { id },
    select: {
      ...headSelect,
      members: userId ? { where: { userId }, select: { role: true, lastReadSeq: true } } : false,
    },
  });
  if (!row) throw new NotFoundError('Conversation');
  const { members, ...conversation } = row as typeof row & { members?: { role: MemberRole; lastReadSeq: number }[] };
  const member = members?.[0] ?? null;
  if (member && roleIn(ctx.viewer, conversation.workspaceId)) return { conversation, member, viaRole: false };
  if (reachesByRole(ctx.viewer, conversation)) return { conversation, member, viaRole: true };
  throw new NotFoundError('Conversation');
}

/**
 * {@link loadAccess}, loaded once per request (per mutation field): what the conversationReader
 * and conversationWriter scopes use, so the resolver they guard gets the same Access with no SQL.
 * Not for checks that must see changes during a subscription (stream.ts uses loadAccess).
 */
export function conversationAccess(ctx: Context, rawId: string | number): Promise<Access> {
  return loadOnce(ctx, `conversation:${String(rawId).toLowerCase()}`, () => loadAccess(ctx, rawId));
}

/**
 * What writing in a conversation needs of {@link Access}: the parts that never change (which
 * conversation, whose, what kind) and whether the viewer is a member. What moves with every
 * message (lastSeq, read marks) is left out, so that it can be kept between operations.
 */
export interface WriteAccess {
  conversation: Pick<ConversationHead, 'id' | 'workspaceId' | 'kind' | 'roomType' | 'uniqueKey' | 'direct'>;
  member: { role: MemberRole } | null;
  viaRole: boolean;
}

/**
 * Write access granted, kept per viewer object. A graphql-ws connection keeps one viewer object
 * for its operations (auth/standing.ts) until the viewer's standing changes: a membership of a
 * workspace or of a conversation lost or gained, a role changed, the key revoked, each announced
 * (announceStandingChange; conversations' in membership.ts) and read again into a new object. So
 * a socket sending a thousand messages to one room checks its access once, and a member removed
 * from the room is refused from their next send on. Over HTTP the viewer is the request's own,
 * and this keeps nothing beyond it. Refusals are never kept (they are rare, and must not outlive
 * a membership gained); deletion needs nothing: the append finds no conversation (NOT_FOUND).
 */
const writable = new WeakMap<Viewer, Map<string, WriteAccess>>();
/** Conversations kept per viewer at most (oldest forgotten first). */
const WRITABLE_PER_VIEWER = 256;

/** {@link conversationAccess} for writing, kept per viewer object (see {@link writable}). */
export async function conversationWriteAccess(ctx: Context, rawId: string | number): Promise<WriteAccess> {
  const id = parseId(rawId, 'Conversation');
  let kept = writable.get(ctx.viewer);
  const known = kept?.get(id);
  if (known) return known;
  const { conversation: c, member, viaRole } = await conversationAccess(ctx, rawId);
  const access: WriteAccess = {
    conversation: { id: c.id, workspaceId: c.workspaceId, kind: c.kind, roomType: c.roomType, uniqueKey: c.uniqueKey, direct: c.direct },
    member: member ? { role: member.role } : null,
    viaRole,
  };
  if (!kept) writable.set(ctx.viewer, (kept = new Map()));
  if (kept.size >= WRITABLE_PER_VIEWER) kept.delete(kept.keys().next().value!);
  kept.set(id, access);
  return access;
}

/**
 * The conversation scopes' rule (Services.resources): a reader reaches it (loadAccess); a writer
 * too, the same set of people, checked through what is kept for writing: who they may write as,
 * and what, is decided by the resolver (actingAuthor, visibility), since it depends on the input.
 * NOT_FOUND is false.
 */
export async function reachesConversation(ctx: Context, id: string, mode: 'read' | 'write'): Promise<boolean> {
  try {
    await (mode === 'write' ? conversationWriteAccess(ctx, id) : conversationAccess(ctx, id));
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/**
 * Whom a viewer reads as: their own conversations in the workspaces they belong to, and every
 * conversation but one-to-one threads in the workspaces they serve as staff. One description
 * for the Prisma filter below and the SQL of search.
 */
export interface ReadableScope {
  userId: string | null;
  /** Workspaces where the viewer reads the conversations they are a member of. */
  memberWorkspaces: string[];
  /** Workspaces where the viewer reads every conversation except one-to-one threads. */
  staffWorkspaces: string[];
}

export function readableScope(viewer: Viewer): ReadableScope {
  const userId = actingUserId(viewer);
  const staffWorkspaces =
    viewer.kind === 'user'
      ? [...viewer.roles].filter(([, r]) => r === 'ADMIN' || r === 'AGENT').map(([w]) => w)
      : viewer.kind === 'apiKey'
        ? [viewer.workspaceId]
        : [];
  const memberWorkspaces =
    viewer.kind === 'user' ? [...viewer.roles.keys()] : viewer.kind === 'guest' ? [viewer.workspaceId] : [];
  return { userId, memberWorkspaces: userId ? memberWorkspaces : [], staffWorkspaces };
}

/**
 * A Prisma filter for the conversations a viewer may read, for lists and search.
 */
export function readableWhere(viewer: Viewer) {
  const { userId, memberWorkspaces, staffWorkspaces } = readableScope(viewer);
  return {
    OR: [
      ...(userId ? [{ workspaceId: { in: memberWorkspaces }, members: { some: { userId } } }] : []),
      ...(staffWorkspaces.length
        ? [{ workspaceId: { in: staffWorkspaces }, direct: false }]
        : []),
    ],
  };
}

/**
 * Who writes in a conversation, by the one acting-as rule (graphql/permissions.ts `actingAs`):
 * the viewer themself, or, for an API key (a server integration such as the legacy shim, whose
 * legacy clients name their user by id), the user it names with `asUserId`, who must be a member
 * of the conversation or staff of its workspace. `member` is that person's membership.
 */
export async function actingAuthor(
  ctx: Context,
  access: WriteAccess,
  asUserId: string | number | null | undefined,
): Promise<{ userId: string; member: { role: MemberRole } | null; staff: boolean }> {
  const { userId, named } = actingAs(ctx.viewer, asUserId, () => new ForbiddenError('An API key writes on behalf of a user: name them with asUserId.'));
  if (!named) return { userId, member: access.member, staff: isStaff(ctx.viewer, access.conversation.workspaceId) };
  // The person an API key names: their standing and membership in one query.
  const { workspaceId } = access.conversation;
  const user = await ctx.db.user.findUnique({
    where: { id: userId },
    select: {
      kind: true,
      guestWorkspaceId: true,
      memberships: { where: { workspaceId }, select: { role: true } },
      conversationMemberships: { where: { conversationId: access.conversation.id }, select: { role: true, lastReadSeq: true } },
    },
  });
  const inWorkspace = user && (user.kind === 'GUEST' ? user.guestWorkspaceId === workspaceId : user.memberships.length > 0);
  if (!user || !inWorkspace) throw new NotFoundError('User');
  const member = user.conversationMemberships[0] ?? null;
  const role = user.memberships[0]?.role;
  const staff = user.kind !== 'GUEST' && (role === 'ADMIN' || role === 'AGENT') && !access.conversation.direct;
  if (!member && !staff) throw new ForbiddenError('That user is neither a member of this conversation nor staff of its workspace.');
  return { userId, member, staff: user.kind !== 'GUEST' && (role === 'ADMIN' || role === 'AGENT') };
}
