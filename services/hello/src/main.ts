import { createServer } from 'node:http';
import { loadConfigOrExit } from '@lab/platform/config';
import { Health } from '@lab/platform/health';
import { createLogger } from '@lab/platform/logger';
import { handleShutdownSignals } from '@lab/platform/shutdown';
import { buildApp } from './app.ts';
import { loadHelloConfig } from './config.ts';

const config = loadConfigOrExit(() => loadHelloConfig(process.env));
const logger = createLogger(config);
const health = new Health(config.service, config.instance);
const server = createServer(buildApp(config, { logger, health }));

handleShutdownSignals({
  logger,
  health,
  graceMs: config.shutdownGraceMs,
  drainDelayMs: config.drainDelayMs,
  close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
});

server.listen(config.port, config.host, () => {
  logger.info({ port: config.port }, 'hello listening');
});
