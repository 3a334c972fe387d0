// Owns calls bound to conversations (ringing, answer, decline, end, ICE relay, the SYSTEM message a call leaves); registers their GraphQL types.
// Exposes the call worker (worker.ts: ring timeouts, disconnects, connectedAnywhere for support's sweeper), which app.ts builds and starts.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
