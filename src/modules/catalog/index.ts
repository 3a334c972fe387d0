// Owns organizations, products and portfolios (the catalog a workspace sells support for); registers their GraphQL types.
// Exposes nothing to other modules: reached only through its GraphQL fields.
import './types.js';
import './queries.js';
import './mutations.js';
