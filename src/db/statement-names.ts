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
 * Texts are looked up by their length, then compared: a statement's text is built anew for each
 * query, and hashing a few kilobytes of SQL for a Map on every query cost more than comparing it
 * with the one or two texts of the same length.
 *
 * Behind a pooler that moves a client's statements between server connections (PgBouncer in
 * transaction mode before 1.21), prepared statements break: set DATABASE_STATEMENT_CACHE=0 there.
 */

/** The name for a statement's text, or undefined to run it unnamed (as `pg` takes it). */
export type StatementNamer = (query: { sql: string }) => string;

/** Texts of one length: each with its name, or null while it has been seen only once. */
type SameLength = Array<{ sql: string; name: string | null }>;

/**
 * A namer for one pool's statements (every connection of it shares the names): the first `max`
 * texts seen twice get `s1`, `s2`, …; undefined when `max` is 0 (nothing is named).
 */
export function statementNamer(max: number): StatementNamer | undefined {
  if (max <= 0) return undefined;
  const byLength = new Map<number, SameLength>();
  let named = 0;
  // Texts seen once, waiting for a second sighting; bounded, and forgotten wholesale when full.
  let seenOnce = 0;
  const forgetSeenOnce = () => {
    for (const [length, texts] of byLength) {
      const kept = texts.filter((text) => text.name !== null);
      if (kept.length) byLength.set(length, kept);
      else byLength.delete(length);
    }
    seenOnce = 0;
  };
  return ({ sql }) => {
    const texts = byLength.get(sql.length);
    const known = texts?.find((text) => text.sql === sql);
    if (known?.name) return known.name;
    if (named >= max) return undefined as unknown as string;
    if (!known) {
      if (seenOnce >= max) forgetSeenOnce();
      seenOnce++;
      const entry = { sql, name: null };
      const same = byLength.get(sql.length);
      if (same) same.push(entry);
      else byLength.set(sql.length, [entry]);
      return undefined as unknown as string;
    }
    seenOnce--;
    known.name = `s${++named}`;
    return known.name;
  };
}
