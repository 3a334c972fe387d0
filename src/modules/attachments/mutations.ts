/**
 * sendAttachment: files and an optional text as one message. The files stream into storage one
 * after another (as they arrive in the request), each as a pending attachment; the message is
 * then appended through the one pipeline, which links them in its transaction and publishes the
 * message with its attachments. Any failure on the way removes what was stored, so a refused or
 * failed upload leaves no file, no attachment row and no message.
 *
 * announceMessage: legacy 004 uploads over HTTP and then "announces" the message over its socket.
 * The message event already went out on commit; announcing publishes it again, which subscribers
 * drop as a duplicate of a seq they have, so announcing is harmless to repeat.
 */
import { z } from 'zod';
import type { FileUpload } from 'graphql-upload-minimal';
import { actingUserId } from '../../auth/viewer.js';
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { loadAccess } from '../conversations/permissions.js';
import { APPEND_ERRORS, findByClientId, loadMessage, MAX_BODY_LENGTH, publishConversationEvent } from '../conversations/pipeline.js';
import { MessageRef, MessageSideEnum } from '../conversations/types.js';
import { asSeenBy, seesNotes } from '../conversations/visibility.js';
import { isInlineImage } from './content-types.js';
import { ingestUpload, UploadRefused, type IngestedFile } from './ingest.js';
import { requirePerson } from '../../graphql/permissions.js';

const SendAttachmentInput = builder.inputType('SendAttachmentInput', {
  description: 'Files to send as one message, with an optional text.',
  fields: (t) => ({
    conversationId: t.id({ description: 'The conversation.' }),
    files: t.field({
      type: ['Upload'],
      description: 'The files, in order: 1 to UPLOAD_MAX_FILES (10 by default), each at most UPLOAD_MAX_FILE_BYTES (25 MB by default).',
    }),
    body: t.string({
      required: false,
      description: `A text to go with the files, up to ${MAX_BODY_LENGTH} characters; may be empty.`,
      validate: z.string().max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`),
    }),
    side: t.field({ type: MessageSideEnum, required: false, description: 'Which side it is shown on (legacy clients).' }),
    replyToId: t.id({ required: false, description: 'The message this answers, in the same conversation.' }),
    clientMessageId: t.string({
      required: false,
      description: 'An idempotency key: sending again with the same key returns the first message and stores nothing.',
      validate: z.string().trim().min(1).max(100, 'must be at most 100 characters'),
    }),
  }),
});

/** Removes stored files that did not end up in a message: their pending rows and their bytes. */
async function discard(ctx: Context, files: IngestedFile[]): Promise<void> {
  if (files.length === 0) return;
  const ids = files.map((f) => f.id);
  await ctx.db.attachment.deleteMany({ where: { id: { in: ids }, messageId: null } }).catch((err: unknown) => {
    ctx.logger.warn({ err, ids }, 'could not remove pending attachment rows; the sweeper will');
  });
  await Promise.all(
    ids.map((id) => ctx.storage.delete(id).catch((err: unknown) => ctx.logger.warn({ err, id }, 'could not remove a stored file; the sweeper will'))),
  );
}

builder.mutationFields((t) => ({
  sendAttachment: t.field({
    type: MessageRef,
    description:
      'Sends files (and an optional text) as one message, uploaded with a GraphQL multipart request. Each file’s type is ' +
      'detected from its bytes; an image-only message is IMAGE, any other FILE. A file over the size limit or of a type not ' +
      'allowed is refused while it streams, and then nothing is kept. With a clientMessageId, a retry returns the first message.',
    errors: { types: APPEND_ERRORS },
    args: { input: t.arg({ type: SendAttachmentInput, description: 'The files and text; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const authorId = requirePerson(ctx.viewer);
      const { UPLOAD_MAX_FILES: maxFiles, UPLOAD_MAX_FILE_BYTES: maxBytes, UPLOAD_ALLOWED_TYPES: allowedTypes } = ctx.config;
      if (input.files.length === 0) throw new ValidationError([{ path: ['input', 'files'], message: 'must hold at least one file' }]);
      if (input.files.length > maxFiles) {
        throw new ValidationError([{ path: ['input', 'files'], message: `must hold at most ${maxFiles} files` }]);
      }
      const access = await loadAccess(ctx, input.conversationId);
      const conversationId = access.conversation.id;
      const clientMessageId = input.clientMessageId?.trim() || null;
      const earlier = await findByClientId(ctx, { conversationId, authorId, clientMessageId });
      if (earlier) return asSeenBy(ctx.viewer, access.conversation.workspaceId, earlier);

      const stored: IngestedFile[] = [];
      try {
        for (const [index, pending] of input.files.entries()) {
          const path = ['input', 'files', String(index)];
          let file: FileUpload;
          try {
            file = await pending;
          } catch (err) {
            throw new ValidationError([{ path, message: `did not arrive (${(err as Error).message})` }]);
          }
          try {
            stored.push(await ingestUpload(ctx.storage, file, { maxBytes, allowedTypes }));
          } catch (err) {
            if (err instanceof UploadRefused) throw new ValidationError([{ path, message: err.message }]);
            throw err;
          }
        }
        await ctx.db.attachment.createMany({
          data: stored.map((f, position) => ({ ...f, conversationId, uploaderId: authorId, position })),
        });
        const { record, created } = await ctx.pipeline.append(ctx, {
          conversationId,
          authorId,
          body: input.body ?? '',
          kind: stored.every((f) => isInlineImage(f.contentType)) ? 'IMAGE' : 'FILE',
          side: input.side ?? null,
          replyToId: input.replyToId ? parseId(input.replyToId, 'Message') : null,
          clientMessageId,
          joinAuthor: !access.member,
          attachmentIds: stored.map((f) => f.id),
        });
        // A concurrent retry with the same clientMessageId won: its message stands, these files go.
        if (!created) await discard(ctx, stored);
        return asSeenBy(ctx.viewer, access.conversation.workspaceId, record);
      } catch (err) {
        await discard(ctx, stored);
        throw err;
      }
    },
  }),
  announceMessage: t.field({
    type: MessageRef,
    description:
      'Publishes a message the viewer wrote to the conversation’s live subscribers again (the legacy 004 "announce" after an ' +
      'upload). Subscribers that already have it drop it as a duplicate of its seq, so repeating this is harmless.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { id: t.arg.id({ description: 'The message.' }) },
    resolve: async (_root, args, ctx) => {
      const message = await loadMessage(ctx, parseId(args.id, 'Message'));
      if (!message) throw new NotFoundError('Message');
      const access = await loadAccess(ctx, message.conversationId).catch(() => {
        throw new NotFoundError('Message');
      });
      if (message.visibility === 'INTERNAL' && !seesNotes(ctx.viewer, access.conversation.workspaceId)) throw new NotFoundError('Message');
      if (message.authorId === null || message.authorId !== actingUserId(ctx.viewer)) {
        throw new ForbiddenError('Only its author may announce a message.');
      }
      if (!message.deletedAt) {
        publishConversationEvent(ctx, { type: 'MESSAGE_ADDED', conversationId: message.conversationId, seq: message.seq, message });
      }
      return asSeenBy(ctx.viewer, access.conversation.workspaceId, message);
    },
  }),
}));
