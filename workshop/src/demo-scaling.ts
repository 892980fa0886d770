import { CPU_QUOTA } from '@lab/lab-kit/lab-env';
import { upstreamTopology } from '@lab/lab-kit/topology';
import { type DemoContext, parseDemoOptions, runDemo, waitUnlessAborted } from './demo.ts';

/**
 * Scaling, live: with every container under the CPU quota of a small machine
 * (docker-compose.quotas.yml), users is offered more page reads than one replica can
 * serve. Going from 1 to 3 replicas, throughput rises to the offered rate and latency
 * falls; back at 1 the overload returns. hello keeps answering throughout.
 * `npm run demo:scaling [-- --short] [-- --port N]`
 */
const HOLD = { live: 15_000, short: 5_000 };
const NO_HOLD = { live: 0, short: 0 };
/**
 * Page reads (50 users each) per second on users: about twice what one replica at its
 * quota serves here (~150/s on a 2-core CI machine with compose's request logs on), and
 * about two thirds of what three serve.
 */
const USERS_OVERLOAD = 300;

function scaleUsers(replicas: number) {
  return async ({ stack, gatewayUrl, signal }: DemoContext) => {
    // --no-recreate: scaling must not restart the replicas already serving. --no-deps and
    // the service name: only users changes; compose does not re-check the gateway's
    // depends_on, which an overloaded replica's healthcheck can miss (its request waits in
    // the same queue as the overload).
    await stack.compose('up', '--detach', '--no-recreate', '--no-deps', '--scale', `users=${replicas}`, 'users');
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
    title: `Scaling: users from 1 to 3 replicas of ${CPU_QUOTA.users} CPU each under a fixed overload, and back; hello unaffected`,
    usersReplicas: 1,
    ratePerSecond: 20,
    routeRates: { users: USERS_OVERLOAD },
    composeOverrides: ['docker-compose.quotas.yml'],
    seedUsers: 50,
    phases: [
      {
        name: '1 replica',
        watch: `one replica cannot keep up with ${USERS_OVERLOAD} req/s: ok/s stays below it, the gateway sheds the rest (503), served requests queue`,
        holdMs: HOLD,
      },
      {
        name: 'scaling to 3',
        watch: 'compose starts 2 more replicas; nothing fails meanwhile',
        action: scaleUsers(3),
        holdMs: NO_HOLD,
      },
      {
        name: '3 replicas',
        watch: 'ok/s rises to the offered rate, errors stop, a served request waits less; about a third each',
        // Longer when short: the new replicas warm up (JIT at a tenth of a core) inside this phase.
        holdMs: { live: HOLD.live, short: 10_000 },
      },
      {
        name: 'scaling to 1',
        watch: 'compose stops 2 replicas; they drain before they exit',
        action: scaleUsers(1),
        holdMs: NO_HOLD,
      },
      { name: 'back to 1', watch: 'the remaining replica takes everything, and the overload is back', holdMs: HOLD },
    ],
  },
  parseDemoOptions(),
);
