import { runService } from '@lab/platform/run-service';
import { buildApp } from './app.ts';
import { loadConsoleConfig } from './config.ts';

await runService({
  loadConfig: loadConsoleConfig,
  buildApp,
  describe: ({ gatewayUrl, monolithUrl }) => ({ gatewayUrl, monolithUrl }),
});
