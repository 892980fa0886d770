import { expect, test } from 'vitest';
import { median, medianOf, ratio, spread } from './stats.ts';

test('median of odd and even counts, ignoring NaN', () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([Number.NaN, 5])).toBe(5);
  expect(median([])).toBeNaN();
});

test('medianOf takes each field on its own', () => {
  expect(
    medianOf(
      [
        { rps: 100, p99: 9 },
        { rps: 300, p99: 1 },
        { rps: 200, p99: 5 },
      ],
      ['rps', 'p99'],
    ),
  ).toEqual({ rps: 200, p99: 5 });
});

test('ratio is NaN rather than Infinity when there is nothing to divide by', () => {
  expect(ratio(3, 2)).toBe(1.5);
  expect(ratio(1, 0)).toBeNaN();
});

test('spread gives min, median and max of the samples that were measured', () => {
  expect(spread([1100, 980, Number.NaN, 1300, 1010])).toEqual({ min: 980, median: 1055, max: 1300 });
  expect(spread([]).median).toBeNaN();
});
