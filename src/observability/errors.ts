/** Error extensions every client sees. */
import { GraphQLError } from 'graphql';

/**
 * The error with `extensions.requestId` (the request or WebSocket operation it was answered in),
 * so a user's report can be matched with the server's log lines, which carry the same id.
 */
export function withRequestId(error: GraphQLError, requestId: string | undefined): GraphQLError {
  if (!requestId || error.extensions?.requestId) return error;
  // The same error when its extensions can take the id (they belong to this one request's
  // error), else a copy.
  if (error.extensions && Object.isExtensible(error.extensions)) {
    (error.extensions as Record<string, unknown>).requestId = requestId;
    return error;
  }
  return copyNamed(error, requestId);
}

/** A copy of the error with `extensions.requestId`. */
function copyNamed(error: GraphQLError, requestId: string): GraphQLError {
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
  return { ...result, errors: result.errors.map((error) => (error.extensions?.requestId ? error : copyNamed(error, requestId))) };
}
