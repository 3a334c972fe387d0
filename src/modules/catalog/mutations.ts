import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { ADMIN_ROLES, canAccessWorkspace, idArg } from '../../graphql/permissions.js';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { Context } from '../../graphql/context.js';
import { OrganizationRef, PortfolioRef, ProductRef } from './types.js';

const name = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const slug = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\w-]+$/, 'may hold letters, digits, _ and - only');

function managed(ctx: Context, raw: string | number): string {
  const id = parseId(raw, 'Workspace');
  if (!canAccessWorkspace(ctx.viewer, { workspaceId: id, roles: ADMIN_ROLES })) throw new NotFoundError('Workspace');
  return id;
}

async function organizationIn(ctx: Context, workspaceId: string, raw: string | number | null | undefined) {
  if (raw === null || raw === undefined) return null;
  const id = parseId(raw, 'Organization');
  const org = await ctx.db.organization.findFirst({ where: { id, workspaceId }, select: { id: true } });
  if (!org) throw new NotFoundError('Organization');
  return org.id;
}

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  description: 'A new organization in a workspace.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    name: t.string({ description: 'Its name, unique in the workspace.', validate: name }),
  }),
});

const CreateProductInput = builder.inputType('CreateProductInput', {
  description: 'A new product in a workspace.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    slug: t.string({ description: 'The key legacy clients name it by, unique in the workspace.', validate: slug }),
    name: t.string({ description: 'Its display name.', validate: name }),
    organizationId: t.id({ required: false, description: 'The organization it belongs to.' }),
    forAdmins: t.boolean({ required: false, defaultValue: true, description: 'List it in the admin product list.' }),
    forClients: t.boolean({ required: false, defaultValue: true, description: 'List it in the client product list.' }),
  }),
});

const CreatePortfolioInput = builder.inputType('CreatePortfolioInput', {
  description: 'A portfolio for the signed-in guest’s session.',
  fields: (t) => ({
    name: t.string({ required: false, description: 'The portfolio name; the visitor’s display name when omitted.', validate: name }),
    organizationId: t.id({ required: false, description: 'The organization it is created under.' }),
  }),
});

builder.mutationFields((t) => ({
  createOrganization: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: OrganizationRef,
    description: 'Creates an organization. Admins and API keys only.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: CreateOrganizationInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = managed(ctx, input.workspaceId);
      try {
        return await ctx.db.organization.create({ ...query, data: { workspaceId, name: input.name } });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('An organization with this name already exists here.', 'name');
        throw err;
      }
    },
  }),
  createProduct: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: ProductRef,
    description: 'Creates a product. Admins and API keys only.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: CreateProductInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = managed(ctx, input.workspaceId);
      const organizationId = await organizationIn(ctx, workspaceId, input.organizationId);
      try {
        return await ctx.db.product.create({
          ...query,
          data: {
            workspaceId,
            organizationId,
            slug: input.slug,
            name: input.name,
            forAdmins: input.forAdmins ?? true,
            forClients: input.forClients ?? true,
          },
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('A product with this slug already exists here.', 'slug');
        throw err;
      }
    },
  }),
  createPortfolio: t.prismaField({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
    type: PortfolioRef,
    description: 'Creates the signed-in guest’s portfolio, or returns the one it has (legacy 000 create-user-profile).',
    errors: { types: [ValidationError, NotFoundError, UnauthenticatedError] },
    args: { input: t.arg({ type: CreatePortfolioInput, required: false, description: 'The details; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const viewer = ctx.viewer;
      if (viewer.kind !== 'guest') throw new UnauthenticatedError('Start a guest session first (startGuestSession).');
      const organizationId = await organizationIn(ctx, viewer.workspaceId, input?.organizationId);
      const user = await ctx.db.user.findUniqueOrThrow({ where: { id: viewer.userId }, select: { displayName: true } });
      return ctx.db.portfolio.upsert({
        ...query,
        where: { workspaceId_userId: { workspaceId: viewer.workspaceId, userId: viewer.userId } },
        create: { workspaceId: viewer.workspaceId, userId: viewer.userId, organizationId, name: input?.name ?? user.displayName },
        update: {},
      });
    },
  }),
}));
