import { loadHelloConfig } from '@lab/hello/config';
import { type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import { loadUsersConfig } from '@lab/users/config';
import pkg from '../package.json' with { type: 'json' };

export function loadMonolithConfig(env: Env) {
  return parseConfig(env, (read) => {
    const settings = readServiceSettings(read, { service: 'monolith', port: 8060, version: pkg.version });
    // The mounted apps read the same environment, so both report this process as their instance
    // and users keeps its own defaults and limits for DATA_DIR and friends.
    const users = loadUsersConfig(env);
    return {
      ...settings,
      dataDir: users.dataDir,
      busyTimeoutMs: users.busyTimeoutMs,
      bodyLimitBytes: users.bodyLimitBytes,
      hello: loadHelloConfig(env),
      users,
    };
  });
}

export type MonolithConfig = ReturnType<typeof loadMonolithConfig>;
