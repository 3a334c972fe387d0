/** Who is calling. Built once per HTTP request or graphql-ws operation by graphql/context.ts. */
import type { Role } from '../generated/prisma/enums.js';

export type Viewer =
  | { kind: 'anonymous' }
  /**
   * A registered user, with their role in each workspace they belong to. Mutable so that a
   * request that grants a role (creating a workspace) can read what it just created.
   */
  | { kind: 'user'; userId: string; roles: Map<string, Role>; customerView?: boolean }
  /** An anonymous website visitor of one workspace; reaches only their own conversations. */
  | { kind: 'guest'; userId: string; workspaceId: string }
  /** A server-to-server caller holding an API key of one workspace; acts as its ADMIN. */
  | { kind: 'apiKey'; apiKeyId: string; workspaceId: string; customerView?: boolean };

/*
 * `customerView` (set from the `X-View-As: customer` header, `connectionParams.viewAs`, and by
 * the legacy shim for every legacy call): reads are served as a customer sees them, with no
 * internal notes and seq in the customer's numbering. It narrows what is read, nothing else:
 * the viewer's rights to act are unchanged.
 */

/** The viewer's role in a workspace, or null when they have none there. */
export function roleIn(viewer: Viewer, workspaceId: string): Role | null {
  switch (viewer.kind) {
    case 'user':
      return viewer.roles.get(workspaceId) ?? null;
    case 'apiKey':
      return viewer.workspaceId === workspaceId ? 'ADMIN' : null;
    case 'guest':
      return viewer.workspaceId === workspaceId ? 'CLIENT' : null;
    default:
      return null;
  }
}

/** The user id acting, or null for anonymous callers and API keys. */
export function actingUserId(viewer: Viewer): string | null {
  return viewer.kind === 'user' || viewer.kind === 'guest' ? viewer.userId : null;
}
