// Registers the support desk (topics, line managers, tickets, routing, claims, urgency, queue,
// subscriptions, the pipeline guard and listener, and the sweeper); exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
import './claims.js';
import './attention.js';
import './sweeper.js';
import './canned.js';
import './ratings.js';
