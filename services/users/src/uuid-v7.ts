import { randomBytes } from 'node:crypto';

let lastMs = Number.NEGATIVE_INFINITY;
let sequence = 0;

/**
 * RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then random bits. Ids sort by
 * creation time, which gives the list a stable order and a cheap cursor. Within
 * one millisecond (or if the clock steps back) the 12-bit rand_a field counts up
 * instead (RFC 9562 section 6.2, method 1), so ids from this process never sort
 * before an earlier one.
 */
export function uuidV7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  if (now > lastMs) {
    lastMs = now;
    // A random start with the top bit clear leaves at least 2048 steps in the millisecond.
    sequence = (((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0)) & 0x07ff;
  } else if (++sequence > 0x0fff) {
    lastMs += 1;
    sequence = 0;
  }
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
