// Owns rooms, threads, messages, reactions, pins and their live streams; registers their GraphQL types.
// Exposes the message pipeline (pipeline.ts: MessagePipeline, in services.pipeline) and the catch-up (catch-up.ts), which app.ts builds and starts.
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
