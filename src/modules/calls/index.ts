// Owns call signalling bound to conversations; registers its GraphQL types.
// Exposes the call worker (worker.ts: ring timeouts, disconnects, who is connected anywhere), which app.ts builds and starts.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
