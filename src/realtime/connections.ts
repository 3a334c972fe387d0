/**
 * The live WebSocket connections of this instance, by user. Modules that care when someone comes
 * or goes (presence, calls ending when a party's last connection drops) listen here instead of
 * reaching into the transport. Local to one instance: cross-instance state goes through pub/sub
 * or Redis.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Viewer } from '../auth/viewer.js';
import { actingUserId } from '../auth/viewer.js';

export interface ConnectionInfo {
  /** Unique per connection. */
  id: string;
  viewer: Viewer;
  /** The person behind it, or null for API keys and anonymous sockets. */
  userId: string | null;
  openedAt: Date;
}

interface Events {
  opened: [ConnectionInfo];
  /** `remaining` is how many connections the same user still has on this instance. */
  closed: [ConnectionInfo, { remaining: number; code: number }];
}

export class Connections extends EventEmitter<Events> {
  private readonly byId = new Map<string, ConnectionInfo>();
  private readonly byUser = new Map<string, Set<string>>();

  open(viewer: Viewer): ConnectionInfo {
    // randomUUID() answers a string of ~15 joined pieces (480 bytes as kept, in heap snapshots);
    // the id lives as long as the connection, in several places: kept as one flat string (56).
    const id = Buffer.from(randomUUID(), 'latin1').toString('latin1');
    const info: ConnectionInfo = { id, viewer, userId: actingUserId(viewer), openedAt: new Date() };
    this.byId.set(info.id, info);
    if (info.userId) {
      let set = this.byUser.get(info.userId);
      if (!set) this.byUser.set(info.userId, (set = new Set()));
      set.add(info.id);
    }
    this.emit('opened', info);
    return info;
  }

  close(id: string, code: number): void {
    const info = this.byId.get(id);
    if (!info) return;
    this.byId.delete(id);
    let remaining = 0;
    if (info.userId) {
      const set = this.byUser.get(info.userId);
      set?.delete(id);
      remaining = set?.size ?? 0;
      if (set && set.size === 0) this.byUser.delete(info.userId);
    }
    this.emit('closed', info, { remaining, code });
  }

  /** Connections of a user on this instance. */
  countFor(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  get size(): number {
    return this.byId.size;
  }
}
