import { expressInstrumentation } from '@lab/platform/express';
import { runService } from '@lab/platform/run-service';
import { describeUsersStore } from '@lab/users/config';
import { buildApp } from './app.ts';
import { loadMonolithConfig } from './config.ts';

await runService({
  loadConfig: loadMonolithConfig,
  buildApp,
  describe: ({ users }) => describeUsersStore(users),
  edge: true,
  // hello's Express router runs inside the monolith.
  instrumentations: () => [expressInstrumentation()],
});
