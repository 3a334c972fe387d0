/** Rooms opened by a key the caller chooses (openRoom, roomByKey): what legacy 002's named rooms stand on. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { guest, workspace, type Person } from './helpers/fixtures.js';
import { apiKey } from './helpers/support.js';

const OpenRoom = graphql(`
  mutation KeyedOpenRoom($input: OpenRoomInput!) {
    openRoom(input: $input) {
      __typename
      ... on Room {
        id
        name
        roomType
        members {
          user {
            id
          }
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const RoomByKey = graphql(`
  query KeyedRoomByKey($workspaceId: ID!, $key: String!) {
    roomByKey(workspaceId: $workspaceId, key: $key) {
      id
      name
    }
  }
`);

let t: TestApp;
let ws: { id: string; admin: Person; people: Record<string, Person> };
let key: string;
let visitor: Person;

beforeAll(async () => {
  t = await startTestApp();
  ws = await workspace(t, { agent: 'AGENT', client: 'CLIENT' });
  key = await apiKey(t, ws.id, ws.admin.token);
  visitor = await guest(t, ws.id, 'keyed-room-visitor');
});
afterAll(async () => {
  await t?.close();
});

describe('openRoom and roomByKey', () => {
  it('opens one GROUP room per key and workspace, adds members each time, and finds it by key', async () => {
    const first = await t.exec(OpenRoom, { input: { workspaceId: ws.id, key: 'lobby', memberIds: [visitor.id] } }, { token: key });
    const room = first.data?.openRoom;
    if (room?.__typename !== 'Room') throw new Error(JSON.stringify(first));
    expect(room).toMatchObject({ name: 'lobby', roomType: 'GROUP' });
    expect(room.members.map((m) => m.user.id)).toEqual([visitor.id]);

    const again = await t.exec(OpenRoom, { input: { workspaceId: ws.id, key: 'lobby', name: 'ignored', memberIds: [ws.people.client!.id, visitor.id] } }, { token: ws.people.agent!.token });
    expect(again.data?.openRoom).toMatchObject({ __typename: 'Room', id: room.id, name: 'lobby' });
    // The agent opened it by role and is not made a member; the two named users are.
    expect(new Set((again.data?.openRoom as { members: Array<{ user: { id: string } }> }).members.map((m) => m.user.id))).toEqual(
      new Set([visitor.id, ws.people.client!.id]),
    );

    expect((await t.exec(RoomByKey, { workspaceId: ws.id, key: 'lobby' }, { token: key })).data?.roomByKey).toEqual({ id: room.id, name: 'lobby' });
    // A member finds it; a key nobody opened is null.
    expect((await t.exec(RoomByKey, { workspaceId: ws.id, key: 'lobby' }, { token: visitor.token })).data?.roomByKey?.id).toBe(room.id);
    expect((await t.exec(RoomByKey, { workspaceId: ws.id, key: 'elsewhere' }, { token: key })).data?.roomByKey).toBeNull();
  });

  it('gives concurrent openers the same room', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.exec(OpenRoom, { input: { workspaceId: ws.id, key: 'race' } }, { token: key })),
    );
    const ids = new Set(results.map((r) => (r.data?.openRoom as { id?: string } | undefined)?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toEqual(expect.any(String));
  });

  it('is for staff and API keys of the workspace; everyone else gets NOT_FOUND or null', async () => {
    for (const token of [ws.people.client!.token, visitor.token]) {
      const refused = await t.exec(OpenRoom, { input: { workspaceId: ws.id, key: 'private' } }, { token });
      expect(refused.data?.openRoom).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    }
    const other = await workspace(t);
    const otherKey = await apiKey(t, other.id, other.admin.token);
    expect((await t.exec(OpenRoom, { input: { workspaceId: ws.id, key: 'lobby' } }, { token: otherKey })).data?.openRoom).toMatchObject({
      __typename: 'NotFoundError',
    });
    const probed = await t.exec(RoomByKey, { workspaceId: ws.id, key: 'lobby' }, { token: otherKey });
    expect(probed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // A member of the workspace who is not in the room does not see it.
    const stranger = await guest(t, ws.id, 'keyed-room-stranger');
    expect((await t.exec(RoomByKey, { workspaceId: ws.id, key: 'lobby' }, { token: stranger.token })).data?.roomByKey).toBeNull();
    // An empty key is refused.
    const bad = await t.exec(OpenRoom, { input: { workspaceId: ws.id, key: '' } }, { token: key });
    expect(bad.data?.openRoom).toMatchObject({ __typename: 'ValidationError' });
  });
});
