/**
 * The three root types; modules add their fields with builder.queryFields & co.
 *
 * Every root field asks for a credential by default: scope-auth runs a root type's scopes on
 * each of its fields. A public field (signing up and in, a guest session, `me`) says so with
 * `skipTypeScopes: true`; a field that needs more names its own scopes, which apply as well.
 */
import { builder } from './builder.js';

builder.queryType({
  description: 'Reads. Every object is scoped to the viewer’s workspaces.',
  authScopes: { authenticated: true },
});
builder.mutationType({
  description: 'Writes. Expected failures come back as typed members of each result union.',
  authScopes: { authenticated: true },
});
builder.subscriptionType({
  description: 'Live events over graphql-ws on /graphql. Authorized when subscribing, like queries.',
  authScopes: { authenticated: true },
});
