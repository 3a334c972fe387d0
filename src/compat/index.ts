/**
 * The legacy shim, mounted on the same port: REST paths of legacy 000, 001, 003 and 004, the
 * Socket.IO events of 002, and the legacy WebSocket protocols. It translates each legacy call
 * into GraphQL operations run by one executor (./executor.ts) and shapes the answers as the
 * legacy documents do; it holds no business logic and never touches the database.
 * docs/legacy-mapping.md maps every legacy call to the operation that serves it.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Host } from '../app.js';
import { LegacyCredentials, LegacyNotConfigured } from './credentials.js';
import { createExecutor } from './executor.js';
import { Legacy000 } from './legacy-000.js';
import { LEGACY_001_SOCKET, Legacy001 } from './legacy-001.js';
import { Legacy003 } from './legacy-003.js';
import { LEGACY_003_CHAT, LEGACY_003_ROOMS, Legacy003Sockets } from './legacy-003-sockets.js';
import { Legacy004 } from './legacy-004.js';
import { installLegacy002 } from './legacy-002.js';
import { Router } from './rest/router.js';

export function installCompat(host: Host): void {
  const logger = host.services.logger.child({ component: 'compat' });
  const executor = createExecutor(host.yoga);
  const router = new Router(logger);
  // Shared by every legacy protocol: the shim's API key, and guest and password sign-ins.
  const credentials = new LegacyCredentials(executor, host.services.config.LEGACY_API_KEY);
  new Legacy000(executor, credentials).mount(router);
  const legacy001 = new Legacy001(executor, credentials, logger);
  legacy001.mount(router);
  new Legacy003(executor).mount(router);
  const legacy004 = new Legacy004(executor);
  legacy004.mount(router);

  host.addHttpRoute({ match: (p) => router.matches(p), handle: (req, res) => router.handle(req, res) });
  // Socket.IO (legacy 002) on /socket.io/, through the host's routes like everything else here.
  installLegacy002(host, executor, credentials, logger);

  // The legacy raw WebSocket protocols: one server, a route per path, the same error handling.
  const legacy003 = new Legacy003Sockets(executor, credentials, logger);
  const sockets: Array<{ name: string; match: (path: string) => boolean; connect: (ws: WebSocket, req: IncomingMessage) => Promise<void> }> = [
    { name: '004', match: (p) => p === '/ws/chat/room/' || p === '/ws/chat/room', connect: (ws, req) => legacy004.connect(ws, req) },
    { name: '001', match: (p) => LEGACY_001_SOCKET.test(p), connect: (ws, req) => legacy001.connect(ws, req) },
    { name: '003 room', match: (p) => LEGACY_003_ROOMS.test(p), connect: (ws, req) => legacy003.rooms(ws, req) },
    { name: '003 chat', match: (p) => LEGACY_003_CHAT.test(p), connect: (ws, req) => legacy003.chat(ws, req) },
  ];
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  for (const { name, match, connect } of sockets) {
    host.addUpgradeRoute({
      match,
      handle: (req, socket, head) =>
        wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', (err) => logger.warn({ err, protocol: name }, 'legacy socket error'));
          connect(ws, req).catch((err: unknown) => {
            if (err instanceof LegacyNotConfigured) return ws.close(1011, 'The legacy API is not configured (LEGACY_API_KEY)');
            logger.error({ err, protocol: name }, 'legacy socket failed');
            ws.close(1011, 'Internal server error');
          });
        }),
    });
  }
  host.onStop(() => {
    for (const client of wss.clients) client.close(1001, 'Server shutting down');
  });
}
