/**
 * After this instance appends a message, tell its worker to look for work at once rather than at
 * its next poll: messages are most of the events, and their deliveries then leave within
 * milliseconds of the commit. Other instances find them at their next poll.
 */
import { addAppendListener } from '../conversations/pipeline.js';
import { webhookWorker } from './worker.js';

addAppendListener(async (services) => {
  webhookWorker(services)?.kick();
});
