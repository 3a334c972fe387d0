import { builder } from '../../graphql/builder.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { canAccessWorkspace, STAFF_ROLES } from '../../graphql/permissions.js';
import { WorkspaceRef } from '../workspaces/types.js';
import { OrganizationRef, PortfolioRef, ProductAudienceEnum, ProductRef } from './types.js';

builder.queryFields((t) => ({
  products: t.prismaField({
    type: [ProductRef],
    description: 'A workspace’s products by name (legacy 000 admin_product_list / client_product_list / product_list).',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      audience: t.arg({ type: ProductAudienceEnum, defaultValue: 'CLIENT', description: 'Which list; ADMIN is for staff only.' }),
      organizationId: t.arg.id({ required: false, description: 'Only this organization’s products.' }),
    },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      const allowed =
        args.audience === 'ADMIN'
          ? canAccessWorkspace(ctx.viewer, { workspaceId, roles: STAFF_ROLES })
          : canAccessWorkspace(ctx.viewer, { workspaceId, guests: true });
      if (!allowed) throw new NotFoundError('Workspace');
      return ctx.db.product.findMany({
        ...query,
        where: {
          workspaceId,
          ...(args.audience === 'ADMIN' ? { forAdmins: true } : { forClients: true }),
          ...(args.organizationId ? { organizationId: parseId(args.organizationId, 'Organization') } : {}),
        },
        orderBy: { name: 'asc' },
      });
    },
  }),
  myPortfolio: t.prismaField({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
    type: PortfolioRef,
    nullable: true,
    description: 'The signed-in guest’s portfolio, if one was created.',
    resolve: (query, _root, _args, ctx) =>
      ctx.viewer.kind === 'guest'
        ? ctx.db.portfolio.findUnique({
            ...query,
            where: { workspaceId_userId: { workspaceId: ctx.viewer.workspaceId, userId: ctx.viewer.userId } },
          })
        : null,
  }),
}));

builder.prismaObjectFields(WorkspaceRef, (t) => ({
  organizations: t.relation('organizations', {
    description: 'The workspace’s organizations by name.',
    query: { orderBy: { name: 'asc' } },
  }),
}));

export { OrganizationRef };
