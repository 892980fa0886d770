import { parseDemoOptions, runDemo, waitForOkUnlessAborted } from './demo.ts';

/**
 * Fault isolation, live: users is killed under load and comes back, while hello,
 * behind the same gateway, keeps answering every request.
 * `npm run demo:fault-isolation [-- --short] [-- --port N]`
 */
const HOLD = { live: 15_000, short: 5_000 };
const NO_HOLD = { live: 0, short: 0 };

await runDemo(
  {
    name: 'fault-isolation',
    title: 'Fault isolation: users goes down, hello stays up',
    usersReplicas: 1,
    ratePerSecond: 20,
    phases: [
      { name: 'all up', watch: 'both routes green', holdMs: HOLD },
      {
        name: 'killing users',
        watch: 'compose kill users: SIGKILL, no graceful shutdown',
        // A kill counts as a manual stop, so the restart policy leaves users down until we start it.
        action: ({ stack }) => stack.compose('kill', 'users'),
        holdMs: NO_HOLD,
      },
      {
        name: 'users down',
        watch: 'users red: the gateway answers 503 at once; hello stays green',
        holdMs: HOLD,
      },
      {
        name: 'users restarting',
        watch: 'users starts again; the gateway readmits it once it is healthy',
        action: async ({ stack, gatewayUrl, signal }) => {
          await stack.compose('start', 'users');
          await waitForOkUnlessAborted(`${gatewayUrl}/api/users`, 60_000, signal);
        },
        holdMs: NO_HOLD,
      },
      { name: 'users back', watch: 'users green again; hello never noticed', holdMs: HOLD },
    ],
  },
  parseDemoOptions(),
);
