/** Recognising database errors that mean something to the domain. */
import { isDriverAdapterError } from '@prisma/driver-adapter-utils';
import { Prisma } from '../generated/prisma/client.js';

/**
 * A unique index refused the write: Prisma's P2002, or, from a raw query ($queryRaw), P2010
 * carrying PostgreSQL's 23505, or the driver adapter's own error from a statement run without
 * Prisma's client (src/db/raw.ts).
 */
export function isUniqueViolation(err: unknown): boolean {
  if (err instanceof Error && isDriverAdapterError(err)) return isUniqueCause(err.cause);
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return false;
  if (err.code === 'P2002') return true;
  return err.code === 'P2010' && isUniqueCause((err.meta?.driverAdapterError as { cause?: unknown } | undefined)?.cause);
}

function isUniqueCause(cause: unknown): boolean {
  const c = cause as { originalCode?: string; kind?: string } | undefined;
  return c?.originalCode === '23505' || c?.kind === 'UniqueConstraintViolation';
}
