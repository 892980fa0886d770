import { type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

export function loadHelloConfig(env: Env) {
  return parseConfig(env, (read) => ({
    ...readServiceSettings(read, { service: 'hello', port: 8070, version: pkg.version }),
  }));
}

export type HelloConfig = ReturnType<typeof loadHelloConfig>;
