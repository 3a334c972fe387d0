/**
 * The typed topic map. Each module declares its own topics next to its resolvers, in
 * `src/modules/<domain>/topics.ts`, by augmenting this interface:
 *
 * ```ts
 * declare module '../../pubsub/topics.js' {
 *   interface Topics { workspace: WorkspaceEvent }
 * }
 * ```
 *
 * A topic is published and subscribed with a key (usually an id), giving the channel
 * `<topic>:<key>`. Payloads cross Redis as JSON: keep them plain (strings, numbers, arrays,
 * objects; dates as ISO strings).
 */
// Empty here; each module adds its topics by declaration merging (an interface, not a type).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Topics {}

export type TopicName = keyof Topics & string;
