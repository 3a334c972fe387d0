/**
 * What authorization loads, kept for the rest of the request: a scope that loaded a conversation
 * to decide leaves it for the resolver it guards, so authorizing costs no SQL statement beyond
 * the check the resolver used to make itself.
 *
 * A mutation changes what the next one may do (joining, leaving, a role granted), and mutations
 * of one operation run one after another; so each mutation field starts with empty caches, both
 * these and scope-auth's own cache of scope results (FreshAuthorizationPlugin). Subscriptions
 * authorize once, when subscribing; their per-event checks do not use this cache.
 */
import SchemaBuilder, { BasePlugin, createContextCache, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { RequestCache } from '@pothos/plugin-scope-auth';
import type { GraphQLFieldResolver } from 'graphql';

const loaded = createContextCache((_ctx: object) => new Map<string, Promise<unknown>>());

/**
 * The value of `load()` for `key`, loaded at most once per request (per mutation field). A
 * rejected load is kept too: the same question gets the same NOT_FOUND.
 */
export function loadOnce<T>(ctx: object, key: string, load: () => Promise<T>): Promise<T> {
  const map = loaded(ctx);
  let entry = map.get(key) as Promise<T> | undefined;
  if (!entry) {
    entry = load();
    map.set(key, entry);
  }
  return entry;
}

/** Forgets what was loaded and decided for this request. */
export function forgetAuthorization(ctx: object): void {
  loaded.delete(ctx);
  RequestCache.clearForContext(ctx);
}

/** Empties the caches above at the start of each mutation field; listed before ScopeAuth. */
export class FreshAuthorizationPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (fieldConfig.kind !== 'Mutation') return resolver;
    return (parent, args, ctx, info) => {
      forgetAuthorization(ctx as object);
      return resolver(parent, args, ctx, info);
    };
  }
}

const pluginName = 'freshAuthorization';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      freshAuthorization: FreshAuthorizationPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin(pluginName, FreshAuthorizationPlugin);

export default pluginName;
