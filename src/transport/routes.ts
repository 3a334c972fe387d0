/**
 * How components mount on the server (src/app.ts builds it): HTTP routes tried before /graphql,
 * WebSocket upgrade routes beside graphql-ws, and the {@link Host} the legacy shim is given. Its
 * own module so that what mounts (src/compat) depends on this contract, not on the app that
 * fulfils it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Yoga } from './http.js';
import type { Services } from '../graphql/context.js';

/** A handler for WebSocket upgrades on matching paths; the compat shim registers its own. */
export interface UpgradeRoute {
  match: (pathname: string) => boolean;
  handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** A handler for HTTP requests on matching paths, tried before /graphql. */
export interface HttpRoute {
  match: (pathname: string) => boolean;
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

/** What a component mounted on the server (the legacy shim) may use. */
export interface Host {
  server: Server;
  yoga: Yoga;
  services: Services;
  addHttpRoute(route: HttpRoute): void;
  addUpgradeRoute(route: UpgradeRoute): void;
  /** Runs on stop, after WebSockets are closed and before pub/sub and the database. */
  onStop(hook: () => Promise<void> | void): void;
}

