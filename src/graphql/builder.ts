/**
 * The Pothos schema builder: plugins and their options, no types. Types live in their modules
 * (src/modules/<domain>/) and are gathered by src/graphql/schema.ts.
 */
import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { FileUpload } from 'graphql-upload-minimal';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';
import type { Context } from './context.js';
import { canAccessWorkspace, isStaff, type WorkspaceAccess } from './permissions.js';
import { fieldCost } from '../security/cost.js';
import AuthorizedValidationPlugin from './validate-after-auth.js';
import FreshAuthorizationPlugin from './request-cache.js';
import { isUuid } from '../ids.js';
import type { Viewer } from '../auth/viewer.js';
import { AppError, ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from './errors.js';
import type { AuthFailure } from '@pothos/plugin-scope-auth';

/** An id as a client sent it (scopes run before input is validated or parsed). */
type RawId = string | number | null | undefined;
type Signed = Context & { viewer: Exclude<Viewer, { kind: 'anonymous' }> };
type Person = Context & { viewer: Extract<Viewer, { kind: 'user' | 'guest' }> };

/**
 * What a refused parameterized scope answers: NOT_FOUND for the object it names, exactly as when
 * the id does not exist, so ids of other workspaces cannot be probed.
 */
const NOT_FOUND_AS: Record<string, string> = {
  workspaceMember: 'Workspace',
  workspaceStaff: 'Workspace',
  conversationReader: 'Conversation',
  conversationWriter: 'Conversation',
  callParty: 'Call',
};

/** The entity of the first refused parameterized scope in a failure, if any. */
function notFoundEntity(failure: AuthFailure): string | null {
  switch (failure.kind) {
    case 'AuthScope':
      return NOT_FOUND_AS[failure.scope] ?? null;
    case 'AllAuthScopes':
    case 'AnyAuthScopes':
      for (const inner of failure.failures) {
        const entity = notFoundEntity(inner);
        if (entity) return entity;
      }
      return null;
    default:
      return null;
  }
}

/** The id as the API stores it, or null when it cannot name anything. */
function idOf(raw: RawId): string | null {
  return raw !== null && raw !== undefined && isUuid(String(raw)) ? String(raw).toLowerCase() : null;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    /** A file of a GraphQL multipart request (src/modules/attachments); input only. */
    Upload: { Input: Promise<FileUpload>; Output: never };
  };
  AuthScopes: {
    /** Any signed-in caller: user, guest or API key. */
    authenticated: boolean;
    /** A registered user (not a guest, not an API key). */
    registered: boolean;
    /** The caller holds one of the roles in the workspace (API keys act as ADMIN of theirs). */
    workspace: WorkspaceAccess;
    /** The caller belongs to the workspace of this id in any role, or is its API key (not a guest); else NOT_FOUND. */
    workspaceMember: RawId;
    /** The caller serves the workspace of this id (ADMIN, AGENT, its API key); else NOT_FOUND. */
    workspaceStaff: RawId;
    /** The caller may read the conversation of this id (conversations/permissions.ts); else NOT_FOUND. */
    conversationReader: RawId;
    /** The caller may write in the conversation of this id; else NOT_FOUND. Who they write as is the resolver's. */
    conversationWriter: RawId;
    /** The caller is a party to the call of this id (calls/permissions.ts); else NOT_FOUND. */
    callParty: RawId;
  };
  AuthContexts: {
    authenticated: Signed;
    registered: Context & { viewer: Extract<Viewer, { kind: 'user' }> };
    workspaceMember: Context & { viewer: Extract<Viewer, { kind: 'user' | 'apiKey' }> };
    workspaceStaff: Context & { viewer: Extract<Viewer, { kind: 'user' | 'apiKey' }> };
    conversationReader: Signed;
    conversationWriter: Signed;
    callParty: Person;
  };
}>({
  // Order matters: each plugin wraps the resolvers of those after it. Errors turns what the rest
  // throw into typed results; each mutation starts with fresh authorization caches
  // (request-cache.ts); ScopeAuth authorizes; only then is input validated
  // (validate-after-auth.ts), so a caller who may not use a field never learns what it accepts.
  plugins: [ErrorsPlugin, FreshAuthorizationPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin, AuthorizedValidationPlugin, ComplexityPlugin],
  defaultInputFieldRequiredness: true,
  defaultFieldNullability: false,
  // Only each field's cost is declared here (src/security/cost.ts); the limit is checked once
  // per operation, before it runs, by src/security/operation-limits.ts on every transport.
  complexity: { fieldComplexity: fieldCost, disabled: true },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      authenticated: ctx.viewer.kind !== 'anonymous',
      registered: ctx.viewer.kind === 'user',
      workspace: (access) => canAccessWorkspace(ctx.viewer, access),
      workspaceMember: (raw) => {
        const id = idOf(raw);
        return !!id && canAccessWorkspace(ctx.viewer, { workspaceId: id });
      },
      workspaceStaff: (raw) => {
        const id = idOf(raw);
        return !!id && isStaff(ctx.viewer, id);
      },
      conversationReader: (raw) => {
        const id = idOf(raw);
        return !!id && ctx.viewer.kind !== 'anonymous' && ctx.resources.conversation(ctx, id, 'read');
      },
      conversationWriter: (raw) => {
        const id = idOf(raw);
        return !!id && ctx.viewer.kind !== 'anonymous' && ctx.resources.conversation(ctx, id, 'write');
      },
      callParty: (raw) => {
        const id = idOf(raw);
        return !!id && (ctx.viewer.kind === 'user' || ctx.viewer.kind === 'guest') && ctx.resources.call(ctx, id);
      },
    }),
    // A caller who is not signed in is told to sign in. A signed-in caller refused an object (an id
    // a parameterized scope checked, or one of another workspace reached through a relation) is
    // told NOT_FOUND, so ids cannot be probed; refused a root field (an operation), FORBIDDEN.
    unauthorizedError: (_parent, ctx, info, result) => {
      if (ctx.viewer.kind === 'anonymous') return new UnauthenticatedError();
      const entity = notFoundEntity(result.failure);
      if (entity) return new NotFoundError(entity);
      const roots = [info.schema.getQueryType(), info.schema.getMutationType(), info.schema.getSubscriptionType()];
      if (roots.includes(info.parentType)) {
        return new ForbiddenError(`Your credential may not use ${info.fieldName}.`);
      }
      return new NotFoundError(info.parentType.name);
    },
  },
  errors: {
    // Any mutation may be refused for want of a credential or a right: every result union lists those.
    defaultTypes: [AppError, UnauthenticatedError, ForbiddenError],
    directResult: true,
  },
  validation: {
    validationError: (result) =>
      new ValidationError(
        result.issues.map((issue) => ({
          path: (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)),
          message: issue.message,
        })),
      ),
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesOnConnection: true,
    // Descriptions for what the relay plugin generates, so GraphiQL documents it all.
    pageInfoTypeOptions: { description: 'Where a page sits in a list: whether more lies either side, and the cursors to get it.' },
    hasNextPageFieldOptions: { description: 'Whether more items follow this page.' },
    hasPreviousPageFieldOptions: { description: 'Whether more items precede this page.' },
    startCursorFieldOptions: { description: 'The cursor of the first item; pass as `before` for the previous page.' },
    endCursorFieldOptions: { description: 'The cursor of the last item; pass as `after` for the next page.' },
    firstArgOptions: { description: 'At most this many items from the start (or after `after`).' },
    lastArgOptions: { description: 'At most this many items from the end (or before `before`).' },
    afterArgOptions: { description: 'Only items after this cursor.' },
    beforeArgOptions: { description: 'Only items before this cursor.' },
    cursorFieldOptions: { description: 'This item’s cursor.' },
    nodeFieldOptions: { description: 'The item.' },
    edgesFieldOptions: { description: 'The items with their cursors.' },
    nodesFieldOptions: { description: 'The items.' },
    pageInfoFieldOptions: { description: 'Where this page sits in the list.' },
    defaultConnectionTypeOptions: { description: 'A page of a list, with cursors to move through it.' },
    defaultEdgeTypeOptions: { description: 'An item of a list with its cursor.' },
  },
});

