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
import ValidationPlugin from '@pothos/plugin-validation';
import type { FileUpload } from 'graphql-upload-minimal';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';
import type { Context } from './context.js';
import { canAccessWorkspace, type WorkspaceAccess } from './permissions.js';
import { fieldCost } from '../security/cost.js';
import { AppError, ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from './errors.js';

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
  };
  AuthContexts: {
    authenticated: Context & { viewer: Exclude<Context['viewer'], { kind: 'anonymous' }> };
    registered: Context & { viewer: Extract<Context['viewer'], { kind: 'user' }> };
  };
}>({
  plugins: [ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ValidationPlugin, ComplexityPlugin],
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
    }),
    // A caller who is not signed in is told to sign in. A signed-in caller refused a root field
    // (an operation) is told FORBIDDEN; refused an object (one of another workspace reached
    // through a relation), NOT_FOUND, so ids cannot be probed.
    unauthorizedError: (_parent, ctx, info) => {
      if (ctx.viewer.kind === 'anonymous') return new UnauthenticatedError();
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
    unsafelyHandleInputErrors: true,
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

