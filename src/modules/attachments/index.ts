// Registers the attachments module (uploads, Message.attachments, the legacy announce); exports nothing.
import './types.js';
import './queries.js';
import './mutations.js';
