/**
 * Who may fetch an attachment's bytes: whoever may read its conversation (loadAccess), while its
 * message exists and is not deleted. Anything else is NOT_FOUND, exactly as for an unknown id.
 */
import type { Context, Services } from '../../graphql/context.js';
import { NotFoundError } from '../../graphql/errors.js';
import { loadAccess } from '../conversations/permissions.js';

export interface ServableAttachment {
  id: string;
  conversationId: string;
  name: string;
  size: number;
  contentType: string;
  sha256: string;
}

/** The attachment if its message is live (committed, not deleted); null otherwise. */
export async function findServable(services: Services, id: string): Promise<ServableAttachment | null> {
  const row = await services.db.attachment.findUnique({
    where: { id },
    select: {
      id: true,
      conversationId: true,
      name: true,
      size: true,
      contentType: true,
      sha256: true,
      message: { select: { deletedAt: true } },
    },
  });
  if (!row?.message || row.message.deletedAt) return null;
  const { message: _message, ...attachment } = row;
  return attachment;
}

/** Throws NOT_FOUND unless the viewer may read the attachment's conversation. */
export async function assertCanRead(ctx: Context, attachment: ServableAttachment): Promise<void> {
  await loadAccess(ctx, attachment.conversationId).catch(() => {
    throw new NotFoundError('Attachment');
  });
}
