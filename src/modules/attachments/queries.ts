import { builder } from '../../graphql/builder.js';
import { UploadLimitsRef } from './types.js';

builder.queryFields((t) => ({
  uploadLimits: t.field({
    type: UploadLimitsRef,
    description: 'What uploads this server accepts (size, count, types), so a client can check before sending.',
    resolve: (_root, _args, ctx) => ({
      maxFileBytes: ctx.config.UPLOAD_MAX_FILE_BYTES,
      maxFiles: ctx.config.UPLOAD_MAX_FILES,
      allowedTypes: ctx.config.UPLOAD_ALLOWED_TYPES,
    }),
  }),
}));
