/**
 * GraphQL multipart requests (file uploads, https://github.com/jaydenseric/graphql-multipart-request-spec)
 * and CSRF prevention, as a Yoga plugin.
 *
 * Uploads are parsed once, by graphql-upload-minimal, straight from the Node request stream (Yoga's
 * own multipart parsing is off: it would hold whole files in memory). The request parser resolves
 * as soon as the `operations` and `map` fields are read; each file then streams to the resolver
 * that takes it, through the `Upload` scalar.
 *
 * CSRF: a browser sends a "simple" cross-site POST (multipart/form-data,
 * application/x-www-form-urlencoded, text/plain, or no content type) without asking first, so
 * such requests must carry one of {@link PREFLIGHT_HEADERS}, which a browser will not add without
 * a CORS preflight that the server answers. JSON requests need none: their content type already
 * forces the preflight. This is the rule of Apollo Server's and Yoga's CSRF prevention, so Apollo's
 * and urql's upload clients work once they send one of these headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { processRequest, Upload, type GraphQLOperation } from 'graphql-upload-minimal';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config/env.js';

/** Any one of these, non-empty, marks a request as not a browser's simple cross-site request. */
export const PREFLIGHT_HEADERS = ['apollo-require-preflight', 'x-apollo-operation-name', 'x-graphql-yoga-csrf', 'graphql-preflight'];

const SIMPLE_TYPES = new Set(['', 'multipart/form-data', 'application/x-www-form-urlencoded', 'text/plain']);

/** The `operations` and `map` fields together may not exceed this. */
const MAX_FIELD_BYTES = 1024 * 1024;

function mediaType(headers: Headers): string {
  return (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function errorResponse(fetchAPI: { Response: typeof Response }, status: number, code: string, message: string): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/** Every Upload placed in the operations by the `map` field. */
function uploadsIn(value: unknown, found: Upload[] = []): Upload[] {
  if (value instanceof Upload) found.push(value);
  else if (Array.isArray(value)) for (const v of value) uploadsIn(v, found);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) uploadsIn(v, found);
  return found;
}

/**
 * A file no resolver read would hold the parser (and so the request body) still: once the
 * response is out, read and drop whatever is left of every file.
 */
function drainUnreadFilesAfter(res: ServerResponse, uploads: Upload[]): void {
  res.once('finish', () => {
    for (const upload of uploads) {
      upload.promise.then(
        (file) => {
          try {
            file.createReadStream().resume();
          } catch {
            // Already read (or failed): nothing to drain.
          }
        },
        () => undefined,
      );
    }
  });
}

export function useMultipartUploads(
  config: Pick<Config, 'UPLOAD_MAX_FILE_BYTES' | 'UPLOAD_MAX_FILES'>,
): Plugin<Record<string, unknown>, { req: IncomingMessage; res: ServerResponse }> {
  // A body larger than every allowed file plus the fields cannot be valid: refuse it unread.
  const maxBody = config.UPLOAD_MAX_FILES * (config.UPLOAD_MAX_FILE_BYTES + 64 * 1024) + MAX_FIELD_BYTES;
  return {
    onRequest({ request, setRequest, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const type = mediaType(request.headers);
      if (SIMPLE_TYPES.has(type) && !PREFLIGHT_HEADERS.some((h) => request.headers.get(h))) {
        endResponse(
          errorResponse(
            fetchAPI,
            403,
            'FORBIDDEN',
            `This request could be a cross-site request forgery: a ${type || 'body without a content type'} POST must carry a ` +
              `non-empty "Apollo-Require-Preflight" (or "X-GraphQL-Yoga-CSRF") header, which makes browsers check CORS first.`,
          ),
        );
        return;
      }
      if (type !== 'multipart/form-data') return;
      if (Number(request.headers.get('content-length') ?? 0) > maxBody) {
        endResponse(
          errorResponse(fetchAPI, 413, 'BAD_USER_INPUT', `The request is larger than ${config.UPLOAD_MAX_FILES} files of the largest size allowed.`),
        );
        return;
      }
      // Hide the body from the rest of Yoga: its request-size limit would otherwise pipe the same
      // Node stream into a stream nobody reads, holding a second copy of every upload in memory
      // (and refusing any over 25,000,000 bytes). The parser below reads the Node request itself,
      // and the limits above and in the parser bound it.
      const headers = new fetchAPI.Headers(request.headers);
      headers.delete('content-length');
      setRequest(new fetchAPI.Request(request.url, { method: 'POST', headers, signal: request.signal }));
    },
    onRequestParse({ request, serverContext, setRequestParser }) {
      if (mediaType(request.headers) !== 'multipart/form-data') return;
      const { req, res } = serverContext;
      setRequestParser(async () => {
        let operations: GraphQLOperation | GraphQLOperation[];
        try {
          operations = await processRequest(req, res, {
            maxFieldSize: MAX_FIELD_BYTES,
            // One byte over the limit, so the resolver sees the overflow and says which file.
            maxFileSize: config.UPLOAD_MAX_FILE_BYTES + 1,
            maxFiles: config.UPLOAD_MAX_FILES,
          });
        } catch (err) {
          const status = (err as { status?: number }).status ?? 400;
          const message = status === 413 && /max file uploads/.test((err as Error).message)
            ? `A request may carry at most ${config.UPLOAD_MAX_FILES} files.`
            : (err as Error).message;
          throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: status === 499 ? 400 : status } } });
        }
        if (Array.isArray(operations)) {
          throw new GraphQLError('Batched operations are not supported.', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
        }
        drainUnreadFilesAfter(res, uploadsIn(operations.variables));
        return operations as never;
      });
    },
  };
}
