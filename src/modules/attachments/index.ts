// Owns uploads (sendAttachment, legacy 004's announceMessage), stored files and Message.attachments; registers their GraphQL types.
// Exposes the attachment record (records.ts, carried in message records), file downloads (download.ts) and the orphan-file sweeper (sweep.ts), which app.ts mounts and starts.
import './types.js';
import './queries.js';
import './mutations.js';
