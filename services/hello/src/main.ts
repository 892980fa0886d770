import { expressInstrumentation } from '@lab/platform/express';
import { runService } from '@lab/platform/run-service';
import { buildApp } from './app.ts';
import { loadHelloConfig } from './config.ts';

await runService({ loadConfig: loadHelloConfig, buildApp, instrumentations: () => [expressInstrumentation()] });
