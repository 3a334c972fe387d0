// Owns accounts, sign-up (with email confirmation), log-in, sessions, guests and usernames; registers their GraphQL types.
// Exposes the user GraphQL types (types.ts), account creation for workspaces (mutations.ts) and the pending sign-up pruner (signup-confirmation.ts), which app.ts starts.
import './types.js';
import './queries.js';
import './mutations.js';
