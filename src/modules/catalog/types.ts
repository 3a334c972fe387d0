/** Organizations, products and portfolios (legacy 000). */
import { builder } from '../../graphql/builder.js';

export const OrganizationRef = builder.prismaObject('Organization', {
  description: 'An organization inside a workspace (legacy 000 organization / org_id).',
  authScopes: (org) => ({ workspace: { workspaceId: org.workspaceId, guests: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The organization’s id.' }),
    name: t.exposeString('name', { description: 'Its name.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
  }),
});

export const ProductRef = builder.prismaObject('Product', {
  description: 'A product that conversations and tickets are about (legacy 000 product lists, 002 product).',
  authScopes: (product) => ({ workspace: { workspaceId: product.workspaceId, guests: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The product’s id.' }),
    slug: t.exposeString('slug', { description: 'The key legacy clients name it by, e.g. "sales-agent".' }),
    name: t.exposeString('name', { description: 'Its display name.' }),
    forAdmins: t.exposeBoolean('forAdmins', { description: 'Listed in the admin product list.' }),
    forClients: t.exposeBoolean('forClients', { description: 'Listed in the client product list.' }),
    organization: t.relation('organization', { nullable: true, description: 'The organization it belongs to, if any.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
  }),
});

export const PortfolioRef = builder.prismaObject('Portfolio', {
  description: 'A visitor’s profile in a workspace, created for a session (legacy 000 create-user-profile).',
  authScopes: (p) => ({ workspace: { workspaceId: p.workspaceId, guests: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The portfolio’s id.' }),
    name: t.exposeString('name', { description: 'The portfolio name.' }),
    user: t.relation('user', { description: 'The visitor it belongs to.' }),
    organization: t.relation('organization', { nullable: true, description: 'The organization it was created under.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
  }),
});

export const ProductAudienceEnum = builder.enumType('ProductAudience', {
  description: 'Which product list to read.',
  values: {
    ADMIN: { description: 'The admin product list (staff only).' },
    CLIENT: { description: 'The client product list (anyone in the workspace, guests included).' },
  } as const,
});
