import { loadConfigOrExit } from '@lab/platform/config';
import { Health } from '@lab/platform/health';
import { createLogger } from '@lab/platform/logger';
import { handleShutdownSignals } from '@lab/platform/shutdown';
import { buildApp } from './app.ts';
import { loadUsersConfig } from './config.ts';

const config = loadConfigOrExit(() => loadUsersConfig(process.env));
const logger = createLogger(config);
const health = new Health(config.service, config.instance);
const app = buildApp(config, { logger, health });

handleShutdownSignals({
  logger,
  health,
  graceMs: config.shutdownGraceMs,
  drainDelayMs: config.drainDelayMs,
  close: () => app.close(),
});

await app.listen({ port: config.port, host: config.host });
logger.info({ dataDir: config.dataDir }, 'users listening');
