// Registers the notifications module (mentions, the per-user feed, its listeners); exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
import './listeners.js';
