// Owns mentions and the per-user feed; registers their GraphQL types.
// Exposes the pipeline listeners that fill the feed (listeners.ts), which app.ts gives the message pipeline, notify helpers for calls and support, and resolveMentions (mentions.ts).
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
