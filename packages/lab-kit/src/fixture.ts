import { afterAll, beforeAll } from 'vitest';

/**
 * One `T` per test file: started before its first test, disposed after its last,
 * whether a test failed or not. `start` must dispose of what it made before it throws.
 * The returned stand-in forwards to the started value, so files read `stack.gatewayUrl`
 * as before; touching it outside a test throws.
 */
export function fileFixture<T extends AsyncDisposable>(start: () => Promise<T>): T {
  let value: T | undefined;
  beforeAll(async () => {
    value = await start();
  });
  afterAll(async () => {
    await value?.[Symbol.asyncDispose]();
  });
  return new Proxy({} as T, {
    get(_, key) {
      if (!value) throw new Error('the fixture is used before beforeAll started it');
      const field = Reflect.get(value, key);
      return typeof field === 'function' ? field.bind(value) : field;
    },
    set(_, key, field) {
      if (!value) throw new Error('the fixture is used before beforeAll started it');
      return Reflect.set(value, key, field);
    },
  });
}
