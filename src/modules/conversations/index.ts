// Owns rooms, threads, messages, reactions, pins and their live streams; registers their GraphQL types.
// Exposes the message pipeline (pipeline.ts, services.pipeline) and the catch-up (catch-up.ts) to app.ts; records, types, access (permissions.ts), visibility, membership and the chatbot settings type to other modules.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
import './rooms.js';
import './chatbot.js';
import './threads.js';
import './typing.js';
import './search.js';
import './reaction-mutations.js';
import './pins.js';
