// Owns uploads, stored files and Message.attachments; registers their GraphQL types.
// Exposes file downloads (download.ts) and the orphan-file sweeper (sweep.ts), which app.ts mounts and starts.
import './types.js';
import './queries.js';
import './mutations.js';
