/**
 * The app's own SQL statements (a `Prisma.sql` template) run on the driver adapter Prisma itself
 * uses, without Prisma's client in between: the same connections (the pool, or PGlite's one
 * session), the same statement counting and prepared statements, the same errors (the adapter's
 * `DriverAdapterError`), and rows with the values `$queryRaw` gives (below).
 *
 * Why: Prisma 7's client turns each `$queryRaw` into a request for its query compiler (the SQL
 * text and every parameter serialized, compiled, interpreted, the rows serialized and read back),
 * which cost ~0.3 ms of CPU per statement in profiles of sends, more than the driver and the
 * database's own work on the statement together. The statements that run per message take this
 * path; the rest keep `$queryRaw`. Transactions stay Prisma's (`$transaction`): a statement here
 * runs on its own, outside any of them.
 */
import { ColumnTypeEnum, type ArgType, type SqlQuery, type SqlResultSet } from '@prisma/driver-adapter-utils';
import type { Prisma } from '../generated/prisma/client.js';

/** Runs one statement and answers its rows, keyed by column name (see the file's comment). */
export type SqlRows = <T>(statement: Prisma.Sql) => Promise<T[]>;

/** A template's text and values as the adapter takes them, each value's type told as Prisma tells it. */
export function toSqlQuery(statement: Prisma.Sql): SqlQuery {
  const args = statement.values;
  return { sql: statement.text, args, argTypes: args.map(argType) };
}

function argType(value: unknown): ArgType {
  if (Array.isArray(value)) {
    const first = value.find((v) => v !== null && v !== undefined);
    return { scalarType: scalarType(first), arity: 'list' };
  }
  return { scalarType: scalarType(value), arity: 'scalar' };
}

function scalarType(value: unknown): ArgType['scalarType'] {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'bigint':
      return 'bigint';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'float';
    default:
      if (value instanceof Date) return 'datetime';
      if (ArrayBuffer.isView(value)) return 'bytes';
      return 'unknown';
  }
}

/**
 * The rows of a result set as objects, with the values Prisma's `$queryRaw` gives: bigint for
 * int8, Date for timestamps and dates, parsed JSON. Numeric and bytes columns are refused rather
 * than given in a form `$queryRaw` would not (a Decimal, a Uint8Array): use `$queryRaw` for them.
 */
export function rowsOf<T>(result: SqlResultSet): T[] {
  const { columnNames, columnTypes, rows } = result;
  const convert = columnTypes.map((type, i) => converter(type, columnNames[i]!));
  const out: T[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const object: Record<string, unknown> = {};
    for (let c = 0; c < columnNames.length; c++) {
      const value = row[c];
      object[columnNames[c]!] = value === null || value === undefined ? null : convert[c]!(value);
    }
    out[r] = object as T;
  }
  return out;
}

type Convert = (value: unknown) => unknown;
const same: Convert = (value) => value;
const toBigInt: Convert = (value) => (typeof value === 'bigint' ? value : BigInt(value as string | number));
const toDate: Convert = (value) => (value instanceof Date ? value : new Date(value as string));
const toTime: Convert = (value) => new Date(`1970-01-01T${String(value)}Z`);
const toJson: Convert = (value) => (typeof value === 'string' ? JSON.parse(value) : value);
const each = (convert: Convert): Convert => (value) => (value as unknown[]).map((v) => (v === null ? null : convert(v)));

function converter(type: number, column: string): Convert {
  switch (type) {
    case ColumnTypeEnum.Int64:
      return toBigInt;
    case ColumnTypeEnum.Int64Array:
      return each(toBigInt);
    case ColumnTypeEnum.Date:
    case ColumnTypeEnum.DateTime:
      return toDate;
    case ColumnTypeEnum.DateArray:
    case ColumnTypeEnum.DateTimeArray:
      return each(toDate);
    case ColumnTypeEnum.Time:
      return toTime;
    case ColumnTypeEnum.TimeArray:
      return each(toTime);
    case ColumnTypeEnum.Json:
      return toJson;
    case ColumnTypeEnum.JsonArray:
      return each(toJson);
    case ColumnTypeEnum.Numeric:
    case ColumnTypeEnum.NumericArray:
    case ColumnTypeEnum.Bytes:
    case ColumnTypeEnum.BytesArray:
      return () => {
        throw new Error(`column "${column}" is numeric or bytes, which db.rows does not convert: run it with $queryRaw`);
      };
    default:
      return same;
  }
}
