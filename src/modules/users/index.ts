// Registers the users module's types and fields with the builder; exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
