import { runService } from '@lab/platform/run-service';
import { buildApp } from './app.ts';
import { loadMonolithConfig } from './config.ts';

await runService({ loadConfig: loadMonolithConfig, buildApp, describe: ({ dataDir }) => ({ dataDir }) });
