// Owns the support desk (topics, line managers, tickets, routing, claims, urgency, queue, canned replies, ratings); registers their GraphQL types.
// Exposes to app.ts the pipeline's claim guard (claims.ts), its urgency listener (attention.ts), the desk queue (desk.ts) and the sweeper (sweeper.ts).
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
import './canned.js';
import './ratings.js';
