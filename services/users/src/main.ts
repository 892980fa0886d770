import { runService } from '@lab/platform/run-service';
import { buildApp } from './app.ts';
import { describeUsersStore, loadUsersConfig } from './config.ts';

await runService({ loadConfig: loadUsersConfig, buildApp, describe: describeUsersStore });
