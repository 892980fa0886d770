import { runService } from '@lab/platform/run-service';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

await runService({ loadConfig: loadGatewayConfig, buildApp, describe: ({ upstreams }) => ({ upstreams }) });
