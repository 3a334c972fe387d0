/**
 * `GET /files/<id>`: an attachment's bytes, for whoever may read its conversation, shown by the
 * Authorization header (or X-Api-Key) or by a signed URL (`?expires=…&signature=…`, see
 * Attachment.signedUrl). Anyone else gets 404, as for an id that does not exist; a credential
 * that is presented but bad gets 401, as on /graphql.
 *
 * Served so that no browser runs it: the detected type (HTML, XML, SVG and scripts never go out
 * as themselves), `X-Content-Type-Options: nosniff`, `Content-Disposition: attachment` for all but
 * plain raster images, and a CSP sandbox in case a browser renders it anyway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { authenticate, credentialFromHeaders, makeContext, type Services } from '../../graphql/context.js';
import { AppError } from '../../graphql/errors.js';
import { contentDisposition, isInlineImage, servedContentType } from './content-types.js';
import { assertCanRead, findServable } from './permissions.js';
import { filePath } from './types.js';
import { UUID_SOURCE } from '../../ids.js';

const PATH = new RegExp(`^/files/(${UUID_SOURCE})/?$`);

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return headers;
}

/** Whether a request path is one this handler serves. */
export function isFilePath(pathname: string): boolean {
  return pathname.startsWith('/files/');
}

export function createFileHandler(services: Services): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const logger = services.logger.child({ component: 'files' });
  const origins = services.config.CORS_ORIGINS;

  function cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (origins.includes('*')) res.setHeader('access-control-allow-origin', '*');
    else if (origin && origins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
    }
    res.setHeader('access-control-expose-headers', 'Content-Disposition, Content-Length, ETag');
  }

  function end(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(`${message}\n`);
  }

  return async (req, res) => {
    cors(req, res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = PATH.exec(url.pathname);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD, OPTIONS',
        'access-control-allow-headers': 'Authorization, X-Api-Key, If-None-Match',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD, OPTIONS');
      return end(res, 405, 'Method not allowed.');
    }
    if (!match) return end(res, 404, 'Not found.');
    const id = match[1]!.toLowerCase();
    try {
      const signed = url.searchParams.has('signature') && services.urlSigner.verify(filePath(id), url.searchParams);
      const attachment = await findServable(services, id);
      if (!signed) {
        const viewer = await authenticate(services, credentialFromHeaders(headersOf(req)));
        if (!attachment || viewer.kind === 'anonymous') return end(res, 404, 'Not found.');
        await assertCanRead(makeContext(services, viewer), attachment);
      }
      if (!attachment) return end(res, 404, 'Not found.');
      const object = await services.storage.get(id);
      if (!object) {
        logger.error({ id }, 'an attachment’s bytes are missing from storage');
        return end(res, 404, 'Not found.');
      }
      const etag = `"${attachment.sha256}"`;
      const inline = isInlineImage(attachment.contentType);
      res.setHeader('etag', etag);
      res.setHeader('cache-control', 'private, max-age=300');
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('content-security-policy', "default-src 'none'; sandbox");
      res.setHeader('cross-origin-resource-policy', 'cross-origin');
      if (req.headers['if-none-match'] === etag) {
        object.body.destroy();
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, {
        'content-type': inline ? attachment.contentType : servedContentType(attachment.contentType),
        'content-length': String(object.size),
        'content-disposition': contentDisposition(inline ? 'inline' : 'attachment', attachment.name),
      });
      if (req.method === 'HEAD') {
        object.body.destroy();
        res.end();
        return;
      }
      await pipeline(object.body, res);
    } catch (err) {
      if (err instanceof AppError) {
        if (err.code === 'UNAUTHENTICATED') return end(res, 401, err.message);
        if (err.code === 'NOT_FOUND') return end(res, 404, 'Not found.');
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      logger.error({ err, id }, 'serving a file failed');
      end(res, 500, 'Unexpected error.');
    }
  };
}
