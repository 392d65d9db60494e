/**
 * Opaque cursors for newest-first keyset pages on (created_at, id), exact to the microsecond
 * PostgreSQL keeps (a JavaScript Date would cut it to milliseconds and skip or repeat rows).
 * Select `cursorTimeSql(column)` as the row's cursor time, encode the last row, decode what a
 * caller sends back: only what this API wrote is accepted.
 */
import { UUID } from '../validation/uuid.js';

const TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

/** SQL for a timestamptz column as the cursor's exact UTC text. */
export function cursorTimeSql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', '${TIME_FORMAT}')`;
}

export function encodeKeysetCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/**
 * The (created_at, id) a cursor stands for: a well-formed UTC time that exists on the calendar
 * (PostgreSQL would refuse 30 February) and a UUID; anything else throws `invalid()`.
 */
export function decodeKeysetCursor(
  cursor: string,
  invalid: () => Error,
): { createdAt: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [createdAt, id] = parsed as unknown[];
  if (typeof createdAt !== 'string' || typeof id !== 'string' || !UUID.test(id)) throw invalid();
  const m = TIME.exec(createdAt);
  const [y, mo, d, h, mi, sec] = (m?.slice(1) ?? []).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  const exists =
    !!m &&
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === sec;
  if (!exists) throw invalid();
  return { createdAt, id };
}
