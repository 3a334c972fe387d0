/** Attachments in GraphQL: the Upload scalar, the Attachment type, and Message.attachments. */
import { GraphQLUpload } from 'graphql-upload-minimal';
import { builder } from '../../graphql/builder.js';
import { MessageRef } from '../conversations/types.js';
import { isInlineImage } from './content-types.js';
import type { AttachmentRecord } from './records.js';

export const UploadScalar = builder.addScalarType('Upload', GraphQLUpload, {
  description:
    'A file sent with a GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec), ' +
    'as Apollo’s and urql’s upload clients send it. Input only. The request must carry an "Apollo-Require-Preflight" ' +
    '(or "X-GraphQL-Yoga-CSRF") header.',
});

/** The path a file is downloaded from (with the Authorization header). */
export function filePath(id: string): string {
  return `/files/${id}`;
}

export const AttachmentRef = builder.objectRef<AttachmentRecord>('Attachment').implement({
  description: 'A file attached to a message. Its type, size and checksum are the server’s own findings from the bytes.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The attachment’s id.' }),
    name: t.exposeString('name', { description: 'The file name the sender’s client gave, for display only.' }),
    size: t.exposeInt('size', { description: 'Its size in bytes.' }),
    contentType: t.exposeString('contentType', { description: 'Its content type, detected from the bytes (the client’s claim is ignored).' }),
    sha256: t.exposeString('sha256', { description: 'SHA-256 of the bytes, in hex.' }),
    width: t.exposeInt('width', { nullable: true, description: 'Images: width in pixels, when it could be read.' }),
    height: t.exposeInt('height', { nullable: true, description: 'Images: height in pixels, when it could be read.' }),
    inline: t.boolean({
      description: 'Whether it is an image browsers may show inline (PNG, JPEG, GIF, WebP, AVIF, BMP); anything else downloads.',
      resolve: (a) => isInlineImage(a.contentType),
    }),
    url: t.string({
      description: 'Where to download it on this server (a path), with the Authorization header; only for those who may read its conversation.',
      resolve: (a) => filePath(a.id),
    }),
    signedUrl: t.string({
      description:
        'The same path signed so that it needs no Authorization header (for `<img src>` or a download link); ' +
        'valid for FILE_URL_TTL_SECONDS (5 minutes by default) from when it was read.',
      resolve: (a, _args, ctx) => ctx.urlSigner.sign(filePath(a.id), ctx.config.FILE_URL_TTL_SECONDS).url,
    }),
  }),
});

builder.objectField(MessageRef, 'attachments', (t) =>
  t.field({
    type: [AttachmentRef],
    description: 'The files it carries, in the order sent; empty once deleted.',
    resolve: (m) => m.attachments,
  }),
);

export const UploadLimitsRef = builder
  .objectRef<{ maxFileBytes: number; maxFiles: number; allowedTypes: readonly string[] }>('UploadLimits')
  .implement({
    description: 'What uploads this server accepts.',
    fields: (t) => ({
      maxFileBytes: t.exposeInt('maxFileBytes', { description: 'The largest file, in bytes.' }),
      maxFiles: t.exposeInt('maxFiles', { description: 'The most files in one request.' }),
      allowedTypes: t.exposeStringList('allowedTypes', {
        description: 'Content types accepted, as detected from the bytes; `type/*` and `*` match many.',
      }),
    }),
  });
