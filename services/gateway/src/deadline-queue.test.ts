import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type Expirable } from './deadline-queue.ts';

afterEach(() => {
  vi.useRealTimers();
});

const item = (name: string, expired: string[]): Expirable => ({
  deadlineAt: 0,
  prevDeadline: undefined,
  nextDeadline: undefined,
  expire: () => expired.push(name),
});

describe('deadline queue', () => {
  it('expires each item exactly its timeout after it was added, with one timer for all', () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(100);
    queue.add(item('a', expired));
    vi.advanceTimersByTime(40);
    queue.add(item('b', expired));
    vi.advanceTimersByTime(59);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(39);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires an item deleted in time (its answer came), wherever it stands in the queue', () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const queue = new DeadlineQueue(100);
    const [first, middle, last] = ['first', 'middle', 'last'].map((name) => item(name, expired)) as Expirable[];
    for (const entry of [first, middle, last, item('late', expired)]) queue.add(entry as Expirable);
    queue.delete(middle as Expirable);
    queue.delete(first as Expirable);
    queue.delete(last as Expirable);
    queue.delete(last as Expirable);
    vi.advanceTimersByTime(500);
    expect(expired).toEqual(['late']);
  });
});
