/**
 * The legacy shim, mounted on the same port: REST paths of legacy 000, 001, 003 and 004, the
 * Socket.IO events of 002, and the legacy WebSocket protocols. It translates each legacy call
 * into GraphQL operations run by one executor (./executor.ts) and shapes the answers as the
 * legacy documents do; it holds no business logic and never touches the database.
 * docs/legacy-mapping.md maps every legacy call to the operation that serves it.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import type { Host } from '../transport/routes.js';
import { LegacyCredentials } from './credentials.js';
import { acceptWhenReady, type Admission } from './legacy-socket.js';
import { createExecutor, type Executor } from './executor.js';
import { Legacy000 } from './legacy-000.js';
import { LEGACY_001_SOCKET, Legacy001 } from './legacy-001.js';
import { Legacy003 } from './legacy-003.js';
import { LEGACY_003_CHAT, LEGACY_003_ROOMS, Legacy003Sockets } from './legacy-003-sockets.js';
import { Legacy004 } from './legacy-004.js';
import { installLegacy002 } from './legacy-002.js';
import { Router } from './rest/router.js';
import { clientAddress } from '../security/address.js';
import { requestIdOf } from '../observability/request-context.js';
import { refuse } from '../security/refusal.js';
import { legacyGate } from '../security/legacy.js';

export function installCompat(host: Host): void {
  const logger = host.services.logger.child({ component: 'compat' });
  const executor = createExecutor(host.yoga);
  const { config, defenses } = host.services;
  const router = new Router(
    logger,
    async (req) => {
      const refusal = await defenses.rateLimits.consume('RATE_LIMIT_LEGACY_ADDRESS', clientAddress(req, config.TRUST_PROXY) ?? 'unknown');
      if (!refusal || refusal.kind !== 'rate') return null;
      refuse(defenses.logger, refusal, { address: clientAddress(req, config.TRUST_PROXY), path: (req.url ?? '').slice(0, 200) });
      return { retryAfterMs: refusal.retryAfterMs };
    },
    // What a legacy call runs is its client's: from its address, under its request's id.
    (req) => executor.for({ address: clientAddress(req, config.TRUST_PROXY), requestId: requestIdOf(req) }),
  );
  // Shared by every legacy protocol: the shim's API key, and guest and password sign-ins.
  const credentials = new LegacyCredentials(executor, host.services.config.LEGACY_API_KEY);
  new Legacy000(credentials).mount(router);
  const legacy001 = new Legacy001(credentials, logger);
  legacy001.mount(router);
  new Legacy003().mount(router);
  const legacy004 = new Legacy004(logger);
  legacy004.mount(router);

  host.addHttpRoute({ match: (p) => router.matches(p), handle: (req, res) => router.handle(req, res) });
  // Socket.IO (legacy 002) on /socket.io/, through the host's routes like everything else here.
  installLegacy002(host, executor, credentials, logger);

  // The legacy raw WebSocket protocols: one server, a route per path, each socket's handshake
  // completed once it is set up (legacy-socket.ts).
  const legacy003 = new Legacy003Sockets(credentials, logger);
  const sockets: Array<{ match: (path: string) => boolean; admit: (req: IncomingMessage, executor: Executor) => Promise<Admission> }> = [
    { match: (p) => p === '/ws/chat/room/' || p === '/ws/chat/room', admit: (req, x) => legacy004.admit(req, x) },
    { match: (p) => LEGACY_001_SOCKET.test(p), admit: (req, x) => legacy001.admit(req, x) },
    { match: (p) => LEGACY_003_ROOMS.test(p), admit: (req, x) => legacy003.admitRooms(req, x) },
    { match: (p) => LEGACY_003_CHAT.test(p), admit: (req, x) => legacy003.admitChat(req, x) },
  ];
  // One message per turn of the event loop, as for graphql-ws (src/app.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, allowSynchronousEvents: false });
  for (const { match, admit } of sockets) {
    host.addUpgradeRoute({
      match,
      handle: (req, socket, head) =>
        // What the socket runs, as it is set up and for each frame, is its client's (by address).
        acceptWhenReady(
          wss,
          req,
          socket,
          head,
          logger,
          () => admit(req, executor.for({ address: clientAddress(req, config.TRUST_PROXY) })),
          // The path (and 004's token) names the socket's legacy identity.
          legacyGate(defenses, config, req, req.url ?? ''),
        ),
    });
  }
  host.onStop(() => {
    for (const client of wss.clients) client.close(1001, 'Server shutting down');
  });
}
