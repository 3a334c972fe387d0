/** Error extensions every client sees. */
import { GraphQLError } from 'graphql';

/**
 * The error with `extensions.requestId` (the request or WebSocket operation it was answered in),
 * so a user's report can be matched with the server's log lines, which carry the same id.
 */
export function withRequestId(error: GraphQLError, requestId: string | undefined): GraphQLError {
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

/**
 * The errors of a result, each named with the request; the same result when none needs it. The
 * errors are copied, never changed: a subscription event's result (and its errors) may be shared
 * by every subscriber that asked the same (src/transport/shared-execution.ts).
 */
export function resultWithRequestId<R extends { errors?: readonly GraphQLError[] }>(result: R, requestId: string | undefined): R {
  if (!requestId || !result.errors?.length) return result;
  const named = (error: GraphQLError) =>
    error.extensions?.requestId
      ? error
      : new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          originalError: error.originalError,
          extensions: { ...error.extensions, requestId },
        });
  return { ...result, errors: result.errors.map(named) };
}
