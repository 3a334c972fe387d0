/** Error extensions every client sees. */
import { GraphQLError } from 'graphql';
import { currentRequestId } from './request-context.js';

/**
 * The error with `extensions.requestId` (the request or WebSocket operation it was answered in),
 * so a user's report can be matched with the server's log lines, which carry the same id.
 */
export function withRequestId(error: GraphQLError): GraphQLError {
  const requestId = currentRequestId();
  if (!requestId || error.extensions?.requestId) return error;
  // The same error, so Yoga does not take it for a masked one (it logs every error it sees
  // replaced); its extensions belong to this one request's error.
  if (error.extensions && Object.isExtensible(error.extensions)) {
    (error.extensions as Record<string, unknown>).requestId = requestId;
    return error;
  }
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, requestId },
  });
}
