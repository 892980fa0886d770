import { loadConfigOrExit } from '@lab/platform/config';
import { Health } from '@lab/platform/health';
import { createLogger } from '@lab/platform/logger';
import { handleShutdownSignals } from '@lab/platform/shutdown';
import { buildMonolith } from './app.ts';
import { loadMonolithConfig } from './config.ts';

const config = loadConfigOrExit(() => loadMonolithConfig(process.env));
const logger = createLogger(config);
const health = new Health(config.service, config.instance);
const monolith = buildMonolith(config, { logger, health });

handleShutdownSignals({
  logger,
  health,
  graceMs: config.shutdownGraceMs,
  drainDelayMs: config.drainDelayMs,
  close: () => monolith.close(),
});

await monolith.ready();
monolith.server.listen(config.port, config.host, () => {
  logger.info({ port: config.port, dataDir: config.dataDir }, 'monolith listening');
});
