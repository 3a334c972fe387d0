/**
 * Who may see and act on a call: its parties (the caller and every callee it rang), while they
 * hold a role in its workspace. Anyone else gets NOT_FOUND, exactly as for an id that does not
 * exist, so call ids cannot be probed. What a party may do depends on the call's state
 * (see lifecycle.ts).
 */
import { actingUserId, roleIn, type Viewer } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { loadOnce } from '../../graphql/request-cache.js';
import { requirePerson } from '../../graphql/permissions.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { callSelect } from './records.js';

/** The acting person; API keys act for a workspace and cannot be on a call. */
export function requireCaller(ctx: Context): string {
  return requirePerson(ctx.viewer, 'Only a signed-in user or guest can take part in calls; an API key acts for a workspace, not a person.');
}

/** The selection of a call with what the state machine needs besides the record. */
export const callStateSelect = {
  ...callSelect,
  callerDeviceId: true,
  answerDeviceId: true,
} satisfies Prisma.CallSelect;

/**
 * Loads a call the viewer is a party to, or throws NOT_FOUND. Once per request (per mutation
 * field): the callParty scope loads it, and the resolver it guards gets the same row.
 */
export function loadCallForParty(ctx: Context, rawId: string | number) {
  return loadOnce(ctx, `call:${String(rawId).toLowerCase()}`, () => loadParty(ctx, rawId));
}

/** The callParty scope's rule (Services.resources): NOT_FOUND is false. */
export async function isCallParty(ctx: Context, id: string): Promise<boolean> {
  try {
    await loadCallForParty(ctx, id);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

async function loadParty(ctx: Context, rawId: string | number) {
  const id = parseId(rawId, 'Call');
  const me = actingUserId(ctx.viewer);
  if (!me) throw new NotFoundError('Call');
  const row = await ctx.db.call.findUnique({ where: { id }, select: callStateSelect });
  const party = row?.participants.find((p) => p.userId === me);
  if (!row || !party || !roleIn(ctx.viewer, row.workspaceId)) throw new NotFoundError('Call');
  return { row, party, me };
}

/** The workspaces whose calls the viewer may list (they still see only calls they are party to). */
export function callWorkspaces(viewer: Viewer): string[] {
  if (viewer.kind === 'user') return [...viewer.roles.keys()];
  if (viewer.kind === 'guest') return [viewer.workspaceId];
  return [];
}
