// Owns presence (online, away, offline; ephemeral, never stored), the chatbot widget's admin status included; registers their GraphQL types.
// Exposes the presence tracker (tracker.ts: Presence), which app.ts builds and every request's context carries.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
