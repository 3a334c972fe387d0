/**
 * The `next` frames of src/transport/frames.ts on real WebSockets: framed by hand as graphql-ws
 * would frame them, and held corked until the end of the turn, so each socket gets one write.
 */
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Frames, nextPrefix } from '../src/transport/frames.js';

interface Pair {
  server: WebSocket;
  received: string[];
}

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const wss of servers.splice(0)) {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

/** `n` connected sockets: the server side of each, and what its client received. */
async function connect(n: number): Promise<Pair[]> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(wss);
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const pairs: Pair[] = [];
  for (let i = 0; i < n; i++) {
    const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    const client = new WebSocket(url);
    const received: string[] = [];
    client.on('message', (data) => received.push(String(data)));
    await new Promise((resolve) => client.once('open', resolve));
    pairs.push({ server: await accepted, received });
  }
  return pairs;
}

const raw = (socket: WebSocket) => (socket as unknown as { _socket: Socket })._socket;
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('next frames', () => {
  it('holds a turn’s frames corked until its end, and each client reads them as graphql-ws messages', async () => {
    const pairs = await connect(4);
    const frames = new Frames(1 << 20, () => undefined);
    const result = { data: { n: 1 } };
    const payload = frames.nextPayload(result)!;
    // One result, encoded once: the same bytes for everyone it is written to.
    expect(frames.nextPayload(result)).toBe(payload);
    expect(frames.stats).toMatchObject({ encoded: 1, reused: 1 });
    for (let i = 0; i < 16; i++) frames.writeNext(pairs[i % 4]!.server, raw(pairs[i % 4]!.server), nextPrefix(`op${i % 4}`), payload);
    // Still in the turn that wrote them: every socket holds its frames corked.
    expect(pairs.map((p) => raw(p.server).writableCorked)).toEqual([1, 1, 1, 1]);
    await turn();
    expect(pairs.map((p) => raw(p.server).writableCorked)).toEqual([0, 0, 0, 0]);
    await expect.poll(() => pairs.map((p) => p.received.length)).toEqual([4, 4, 4, 4]);
    expect(JSON.parse(pairs[2]!.received[0]!)).toEqual({ id: 'op2', type: 'next', payload: { data: { n: 1 } } });
  });
});
