// Registers the webhooks module (endpoints, the delivery log, redelivery); exports nothing.
// The outbox writer (events.ts) is called by the modules whose changes it reports; the worker
// (worker.ts) is started by buildApp.
import './types.js';
import './queries.js';
import './mutations.js';
