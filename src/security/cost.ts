/**
 * The cost model of an operation, as Pothos' complexity plugin computes it (each field's cost
 * here; the sum over the selection, before anything runs, in ./operation-limits.ts).
 *
 * Every field costs 1. A field's sub-selection is multiplied by how many items it can return:
 * - a connection (`messages(first: 100)`) by its page size, `first` or `last` (at most the
 *   {@link MAX_PAGE} every connection of this schema caps a page at), or the page the server
 *   serves when neither is given; its `edges`/`nodes` are that page, not another factor;
 * - any other list (`members`, `attachments`, a relation's fan-out) by {@link LIST_FAN_OUT},
 *   or by its own `first`/`limit` argument when it has one (at most {@link MAX_LIST}).
 * So `workspace { members { workspace { members { … } } } }` grows as fan-out^depth, as its
 * resolution does, and 2,000 aliases of `messages(first: 100)` cost 2,000 × 100 × their fields.
 */
import { getNamedType, isListType, isNonNullType, type GraphQLField, type GraphQLOutputType } from 'graphql';
import type { FieldComplexityValue } from '@pothos/plugin-complexity';

/** What an unpaged list is assumed to hold (relations, `members`, `attachments`…). */
export const LIST_FAN_OUT = 10;
/** The page a connection serves when the client gives no `first`/`last`. */
export const DEFAULT_PAGE = 20;
/** The largest page any connection serves (`first: 1000000` gets 100), so the most it can cost. */
export const MAX_PAGE = 100;
/** The largest list argument any list field accepts (supportQueue's `first`). */
export const MAX_LIST = 200;

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

function pageSize(args: Record<string, unknown>): number | null {
  for (const name of ['first', 'last', 'limit', 'take']) {
    const value = args[name];
    if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, value);
  }
  return null;
}

export function fieldCost(args: Record<string, unknown>, _ctx: unknown, field: Pick<GraphQLField<unknown, never>, 'name' | 'type'>): FieldComplexityValue {
  const named = getNamedType(field.type).name;
  if (named.endsWith('Connection')) return { field: 1, multiplier: Math.min(pageSize(args) ?? DEFAULT_PAGE, MAX_PAGE) };
  if (isList(field.type)) {
    // A connection's edges and nodes are the page its field already counted.
    // (The schema has no other list fields of these names: schema.graphql.)
    if (field.name === 'edges' || field.name === 'nodes') return { field: 1, multiplier: 1 };
    return { field: 1, multiplier: Math.min(pageSize(args) ?? LIST_FAN_OUT, MAX_LIST) };
  }
  return 1;
}
