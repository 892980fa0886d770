import { upstreamTopology } from '@lab/lab-kit/topology';
import { type DemoContext, parseDemoOptions, runDemo, waitUnlessAborted } from './demo.ts';

/**
 * Scaling, live: users goes from 1 to 3 replicas and back under load; the gateway
 * spreads requests over whatever is healthy and hello keeps answering throughout.
 * `npm run demo:scaling [-- --short] [-- --port N]`
 */
const HOLD = { live: 15_000, short: 5_000 };
const NO_HOLD = { live: 0, short: 0 };

function scaleUsers(replicas: number) {
  return async ({ stack, gatewayUrl, signal }: DemoContext) => {
    // --no-recreate: scaling must not restart the replicas already serving.
    await stack.compose('up', '--detach', '--no-recreate', '--scale', `users=${replicas}`);
    // The gateway rediscovers replicas every 2 s by default and admits each once its probe passes.
    await waitUnlessAborted(
      async () => {
        const { known, healthy } = (await upstreamTopology(gatewayUrl, 'users')).replicas;
        return known === replicas && healthy === replicas;
      },
      60_000,
      `the gateway seeing ${replicas} healthy users replica(s)`,
      signal,
    );
  };
}

await runDemo(
  {
    name: 'scaling',
    title: 'Scaling: users from 1 to 3 replicas and back, hello unaffected',
    usersReplicas: 1,
    ratePerSecond: 20,
    phases: [
      { name: '1 replica', watch: 'one users replica serves 100%', holdMs: HOLD },
      {
        name: 'scaling to 3',
        watch: 'compose starts 2 more replicas; nothing fails meanwhile',
        action: scaleUsers(3),
        holdMs: NO_HOLD,
      },
      { name: '3 replicas', watch: 'the users share spreads to about a third each', holdMs: HOLD },
      {
        name: 'scaling to 1',
        watch: 'compose stops 2 replicas; they drain before they exit',
        action: scaleUsers(1),
        holdMs: NO_HOLD,
      },
      { name: 'back to 1', watch: 'the remaining replica takes everything again', holdMs: HOLD },
    ],
  },
  parseDemoOptions(),
);
