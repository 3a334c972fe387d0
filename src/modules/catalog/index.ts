// Registers the catalog module (organizations, products, portfolios); exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
