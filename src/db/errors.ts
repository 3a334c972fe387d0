/** Recognising database errors that mean something to the domain. */
import { Prisma } from '../generated/prisma/client.js';

/** A unique index refused the write (Prisma P2002). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}
