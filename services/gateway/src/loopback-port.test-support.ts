import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

/**
 * A port nothing listens on at 127.0.0.1 now: the tests' replicas share it on 127.0.0.1,
 * 127.0.0.2, ..., as Docker replicas share one port on their own addresses.
 */
export async function sharedLoopbackPort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** An un-listened gateway whose hello and users are the replicas on `addresses`, sharing `port`. */
export function gatewayOverLoopback(port: number, addresses: string[], env: Record<string, string> = {}) {
  return buildApp(
    loadGatewayConfig({
      USERS_URL: `http://users.test:${port}`,
      HELLO_URL: `http://hello.test:${port}`,
      LOG_LEVEL: 'silent',
      ...env,
    }),
    { resolveAll: async () => addresses },
  );
}
