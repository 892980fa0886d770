import { killNodeProcess } from '@lab/lab-kit/docker';
import { type Outcome, startLoad } from '@lab/lab-kit/load';
import { sleep } from '@lab/lab-kit/wait';
import type { Deployment } from './deployments.ts';
import type { Container } from './session.ts';

export const blastRadiusNote =
  'The kill is a SIGKILL of the node process inside the container, as a crash would be: the container exits and its restart policy (unless-stopped) brings it back (`docker kill` would count as a manual stop and never restart). A client on the host asks for hello and for one user 20 times a second each; availability is the share of 200s among the requests sent in the window. The same client asks the killed process itself for /health/ready (users directly, or the monolith): "after the service is ready" runs from the first of those probes that it answered 200 to the first user served through the public API. The gateway runs with its default settings.';

/** 20 requests a second per route: steady enough to see a gap, light enough not to load anything. */
const PROBE_RATE = 20;

export interface BlastRadius {
  /** Share of hello requests answered 200 in the window after the kill (%). */
  helloAvailability: number;
  usersAvailability: number;
  /** From the kill to the first 200 from users again (ms); NaN if it never came. */
  usersBackMs: number;
  /** From the kill to the end of the last failed users request in the window (ms): a flapping recovery shows here. */
  usersSteadyMs: number;
  /** From the killed process answering its own readiness probe again to the first user served through the API (ms). */
  usersBackAfterReadyMs: number;
}

const endedAt = (o: Outcome) => o.sentAt + o.latencyMs;

function availability(outcomes: Outcome[], route: string, from: number, to: number): number {
  const window = outcomes.filter((o) => o.route === route && o.sentAt >= from && o.sentAt < to);
  return window.length === 0 ? Number.NaN : (100 * window.filter((o) => o.status === 200).length) / window.length;
}

/**
 * SIGKILL `victims` while a client asks the deployment for hello and a user,
 * then watch `windowS` seconds (and on, until users answers again, at most 60 s).
 */
export async function measureBlastRadius(
  deployment: Deployment,
  victims: Container[],
  userId: string,
  windowS: number,
  /** The killed process's own /health/ready, published on the host. */
  readyUrl: string,
): Promise<BlastRadius> {
  const loop = startLoad({
    routes: [
      { name: 'hello', path: `${deployment.hostUrl}/api/hello` },
      { name: 'users', path: `${deployment.hostUrl}/api/users/${userId}` },
      { name: 'ready', path: readyUrl },
    ],
    ratePerSecond: PROBE_RATE,
    // Past the longest wait below: the kill, the window, and up to 60 s for users to come back.
    maxDurationMs: (windowS + 90) * 1000,
    clientTimeoutMs: 2000,
  });
  await sleep(1000);
  await Promise.all(victims.map((victim) => killNodeProcess(victim.id)));
  // The process is dead once the exec returns; requests already in flight may still have succeeded.
  const killedAt = loop.now();
  await sleep(windowS * 1000);
  const firstFailure = () =>
    loop.outcomes.find((o) => o.route === 'users' && o.sentAt >= killedAt && o.status !== 200)?.sentAt ??
    Number.POSITIVE_INFINITY;
  const usersBack = () =>
    loop.outcomes.some((o) => o.route === 'users' && o.status === 200 && o.sentAt > firstFailure());
  while (!usersBack() && loop.now() < killedAt + 60_000) await sleep(100);
  const outcomes = await loop.stop();
  const failedAt = firstFailure();
  const back = outcomes.find((o) => o.route === 'users' && o.status === 200 && o.sentAt > failedAt);
  const readyFailedAt =
    outcomes.find((o) => o.route === 'ready' && o.sentAt >= killedAt && o.status !== 200)?.sentAt ??
    Number.POSITIVE_INFINITY;
  const readyAgain = outcomes.find((o) => o.route === 'ready' && o.status === 200 && o.sentAt > readyFailedAt);
  return {
    helloAvailability: availability(outcomes, 'hello', killedAt, killedAt + windowS * 1000),
    usersAvailability: availability(outcomes, 'users', killedAt, killedAt + windowS * 1000),
    // No failed request at all means users never stopped answering.
    usersSteadyMs: Math.max(
      0,
      ...outcomes
        .filter(
          (o) =>
            o.route === 'users' && o.status !== 200 && o.sentAt >= killedAt && o.sentAt < killedAt + windowS * 1000,
        )
        .map((o) => endedAt(o) - killedAt),
    ),
    usersBackMs: failedAt === Number.POSITIVE_INFINITY ? 0 : back ? endedAt(back) - killedAt : Number.NaN,
    // Timed from when that first good probe was sent: the process was up by then, so the lag is not understated.
    usersBackAfterReadyMs: back && readyAgain ? Math.max(0, endedAt(back) - readyAgain.sentAt) : Number.NaN,
  };
}
