// Registers the conversations module (rooms, threads, messages, live events); exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
import './subscriptions.js';
import './rooms.js';
import './chatbot.js';
import './threads.js';
import './typing.js';
import './search.js';
import './catch-up.js';
import './reaction-mutations.js';
import './pins.js';
