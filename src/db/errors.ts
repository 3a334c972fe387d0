/** Recognising database errors that mean something to the domain. */
import { Prisma } from '../generated/prisma/client.js';

/**
 * A unique index refused the write: Prisma's P2002, or, from a raw query ($queryRaw), P2010
 * carrying PostgreSQL's 23505.
 */
export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return false;
  if (err.code === 'P2002') return true;
  const cause = (err.meta?.driverAdapterError as { cause?: { originalCode?: string; kind?: string } } | undefined)?.cause;
  return err.code === 'P2010' && (cause?.originalCode === '23505' || cause?.kind === 'UniqueConstraintViolation');
}
