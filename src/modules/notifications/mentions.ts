/**
 * @mentions: parsed from a message's body when it is sent or edited, resolved to the people of the
 * conversation's workspace who can read the conversation, and stored on the message with their
 * offsets. A name that is nobody's, or someone who cannot read the conversation (another
 * workspace's user, a member of the workspace outside a private conversation), is left as plain
 * text: it is not stored and notifies no one, so a mention reveals nothing about other tenants.
 * `@here` counts only from staff in a support room or ticket, and then reaches its members.
 * In an internal note (visibility INTERNAL) only people who can see notes count: staff (ADMIN,
 * AGENT) of the workspace. A customer named in a note is left as plain text, so nothing about the
 * note reaches them, and `@here` in a note reaches only the staff among the members.
 */
import type { Services } from '../../graphql/context.js';
import type { MessageVisibility } from '../../generated/prisma/enums.js';
import type { MentionRecord } from '../conversations/records.js';
import { USERNAME_PATTERN } from '../../graphql/validators.js';

/** An "@" not preceded by a handle character or another "@" (so emails are not mentions). */
const MENTION = /(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]+)/g;

interface Candidate {
  start: number;
  length: number;
  key: string;
}

/** The mention-shaped words of a body: "@" and a possible handle (trailing "." and "-" dropped). */
export function parseMentions(body: string): Candidate[] {
  const out: Candidate[] = [];
  for (const m of body.matchAll(MENTION)) {
    const name = m[1]!.replace(/[.-]+$/, '');
    const key = name.toLowerCase();
    if (key !== 'here' && !USERNAME_PATTERN.test(name)) continue;
    out.push({ start: m.index!, length: name.length + 1, key });
  }
  return out;
}

/** Whether the conversation is one where staff may call on everyone with @here. */
function supportConversation(c: { kind: string; roomType: string | null }): boolean {
  return c.kind === 'TICKET' || (c.kind === 'ROOM' && c.roomType === 'SUPPORT');
}

/**
 * The body's mentions as stored on the message: one query for the conversation and the named
 * users (with their standing in its workspace and conversation), none when the body has no "@".
 */
export async function resolveMentions(
  services: Services,
  conversationId: string,
  body: string,
  authorId: string | null,
  visibility: MessageVisibility = 'PUBLIC',
): Promise<MentionRecord[]> {
  const candidates = parseMentions(body);
  if (candidates.length === 0) return [];
  const keys = [...new Set(candidates.map((c) => c.key).filter((k) => k !== 'here'))];
  const wantsHere = candidates.some((c) => c.key === 'here');
  const conversation = await services.db.conversation.findUnique({
    where: { id: conversationId },
    select: {
      workspaceId: true,
      kind: true,
      roomType: true,
      direct: true,
    },
  });
  if (!conversation) return [];
  const users = await services.db.user.findMany({
    where: {
      OR: [
        ...(keys.length ? [{ usernameKey: { in: keys }, kind: 'REGISTERED' as const }] : []),
        ...(wantsHere && authorId ? [{ id: authorId }] : []),
      ],
    },
    select: {
      id: true,
      username: true,
      usernameKey: true,
      memberships: { where: { workspaceId: conversation.workspaceId }, select: { role: true } },
      conversationMemberships: { where: { conversationId }, select: { userId: true } },
    },
  });
  const canRead = (u: (typeof users)[number]) => {
    const role = u.memberships[0]?.role;
    const staff = role === 'ADMIN' || role === 'AGENT';
    if (visibility === 'INTERNAL') return staff && (u.conversationMemberships.length > 0 || !conversation.direct);
    return u.conversationMemberships.length > 0 || (!conversation.direct && staff);
  };
  const byKey = new Map(users.filter((u) => u.usernameKey && canRead(u)).map((u) => [u.usernameKey!, u]));
  const author = users.find((u) => u.id === authorId);
  const authorRole = author?.memberships[0]?.role;
  const hereAllowed = supportConversation(conversation) && (authorRole === 'ADMIN' || authorRole === 'AGENT');
  const out: MentionRecord[] = [];
  for (const c of candidates) {
    if (c.key === 'here') {
      if (hereAllowed) out.push({ start: c.start, length: c.length, userId: null, username: null, here: true });
      continue;
    }
    const user = byKey.get(c.key);
    if (user) out.push({ start: c.start, length: c.length, userId: user.id, username: user.username, here: false });
  }
  return out;
}
