/**
 * Prepared statements on PostgreSQL: names for the statements the app runs again and again.
 *
 * Without a name, PostgreSQL parses and plans every statement anew. For the message append
 * (append-statement.ts, one CTE of a dozen parts) that was 2 ms of the database's CPU per send
 * out of 2.5: parse 0.8 ms, plan 1.2 ms, execute 0.5 ms, measured with log_min_duration_statement
 * at 100 sends/s. A named statement is parsed once per connection, and after a few executions
 * PostgreSQL keeps its generic plan, so a send costs the database little more than its execution.
 *
 * `pg` prepares a named statement on a connection the first time that connection runs it and
 * keeps it for the connection's life; a name must always stand for the same text. So a text is
 * named only when it is seen a second time (one-off statements, such as a migration's, are not
 * kept on the server), and at most `max` texts are named; anything past that runs unnamed, as
 * before. What PostgreSQL keeps is therefore bounded: at most `max` statements per connection.
 *
 * Behind a pooler that moves a client's statements between server connections (PgBouncer in
 * transaction mode before 1.21), prepared statements break: set DATABASE_STATEMENT_CACHE=0 there.
 */

/** The name for a statement's text, or undefined to run it unnamed (as `pg` takes it). */
export type StatementNamer = (query: { sql: string }) => string;

/**
 * A namer for one pool's statements (every connection of it shares the names): the first `max`
 * texts seen twice get `s1`, `s2`, …; undefined when `max` is 0 (nothing is named).
 */
export function statementNamer(max: number): StatementNamer | undefined {
  if (max <= 0) return undefined;
  const named = new Map<string, string>();
  // Texts seen once, waiting for a second sighting; bounded, and forgotten wholesale when full.
  const seenOnce = new Set<string>();
  return ({ sql }) => {
    const name = named.get(sql);
    if (name !== undefined || named.size >= max) return name as string;
    if (!seenOnce.has(sql)) {
      if (seenOnce.size >= max) seenOnce.clear();
      seenOnce.add(sql);
      return undefined as unknown as string;
    }
    seenOnce.delete(sql);
    const fresh = `s${named.size + 1}`;
    named.set(sql, fresh);
    return fresh;
  };
}
