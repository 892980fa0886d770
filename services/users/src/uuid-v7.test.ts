import { describe, expect, it } from 'vitest';
import { uuidV7 } from './uuid-v7.ts';

describe('uuidV7', () => {
  it('sorts in creation order even within one millisecond and when the clock steps back', () => {
    const now = Date.now() + 60_000;
    const ids = [...Array.from({ length: 5000 }, () => uuidV7(now)), uuidV7(now - 1000), uuidV7(now + 1)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
