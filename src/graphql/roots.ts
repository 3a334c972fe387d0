/** The three root types; modules add their fields with builder.queryFields & co. */
import { builder } from './builder.js';

builder.queryType({ description: 'Reads. Every object is scoped to the viewer’s workspaces.' });
builder.mutationType({ description: 'Writes. Expected failures come back as typed members of each result union.' });
builder.subscriptionType({
  description: 'Live events over graphql-ws on /graphql. Authorized when subscribing, like queries.',
});
