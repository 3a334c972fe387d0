// Registers the presence module (online, away, offline; ephemeral); exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
