// Registers the calls module (call signalling bound to conversations); exports nothing.
// Its background worker (ring timeouts, disconnects) is started by app.ts from ./worker.ts.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
