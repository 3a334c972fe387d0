// Owns webhook endpoints, the outbox and the delivery log; registers their GraphQL types.
// Exposes the outbox writer (events.ts, called where changes are written) and the delivery worker (worker.ts), which app.ts builds and starts.
import './types.js';
import './queries.js';
import './mutations.js';
