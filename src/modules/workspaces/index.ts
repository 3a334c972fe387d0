// Owns workspaces, their members and roles, workspace users and API keys, and the workspace event stream; registers their GraphQL types.
// Exposes WorkspaceRef (types.ts), the workspace events (topics.ts) and endsStaffStanding (permissions.ts) to conversations, presence and catalog.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
