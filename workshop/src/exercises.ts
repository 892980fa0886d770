import { docker } from '@lab/lab-kit/docker';
import { container, envOf, hostPort, image, network, nodeIn, runningContainer } from './docker-state.ts';

/** One thing the exercise asks for, and a check that throws a plain-words reason when it is not so. */
export interface Check {
  what: string;
  verify: () => Promise<void>;
}

function ensure(condition: boolean, reason: string): asserts condition {
  if (!condition) throw new Error(reason);
}

const runsImage = (name: string, ref: string): Check => ({
  what: `container ${name} is running ${ref}`,
  verify: async () => {
    const info = await runningContainer(name);
    ensure(info.Config.Image === ref, `${name} runs ${info.Config.Image}, not ${ref}`);
  },
});

const publishes = (name: string, containerPort: number, wanted?: number): Check => ({
  what: wanted
    ? `${name} publishes its port ${containerPort} on host port ${wanted}`
    : `${name} publishes its port ${containerPort} on a host port`,
  verify: async () => {
    const published = hostPort(await container(name), `${containerPort}/tcp`);
    ensure(published !== undefined, `${name} publishes nothing for ${containerPort}/tcp; run it with -P or -p`);
    ensure(
      wanted === undefined || published === String(wanted),
      `${name} publishes ${containerPort}/tcp on host port ${published}, not ${wanted}; use -p ${wanted}:${containerPort}`,
    );
  },
});

async function fetchStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3_000) })).status;
  } catch (error) {
    return Promise.reject(new Error(`nothing answered at ${url} (${(error as Error).message})`));
  }
}

async function composeContainers(project: string, service: string): Promise<string[]> {
  const ids = await docker(
    'ps',
    '--quiet',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--filter',
    `label=com.docker.compose.service=${service}`,
  );
  return ids.split('\n').filter(Boolean);
}

/** The registry on localhost:5000 of chapter 08, and who pushes to it. */
const you = () => {
  const name = process.env.YOU;
  ensure(Boolean(name), 'YOU is not set: export YOU=<the name you used in localhost:5000/<you>/users:1.0>');
  return name as string;
};

export const EXERCISES: Record<string, Check[]> = {
  '01': [
    ...['gateway', 'hello'].map(
      (service): Check => ({
        what: `compose project lab runs ${service}`,
        verify: async () => {
          const running = await composeContainers('lab', service);
          ensure(
            running.length >= 1,
            `no running ${service} in project lab; run: docker compose -p lab up -d --scale users=3`,
          );
        },
      }),
    ),
    {
      what: 'compose project lab runs 3 users replicas',
      verify: async () => {
        const running = await composeContainers('lab', 'users');
        ensure(running.length === 3, `project lab runs ${running.length} users replica(s), not 3; use --scale users=3`);
      },
    },
  ],
  '02': ['users-a', 'users-b'].map((name) => runsImage(name, 'microservices-lab/users:dev')),
  '03': [
    runsImage('users-p', 'microservices-lab/users:dev'),
    publishes('users-p', 8090),
    {
      what: 'users-p answers /health/ready on its published port',
      verify: async () => {
        const port = hostPort(await container('users-p'), '8090/tcp');
        const status = await fetchStatus(`http://127.0.0.1:${port}/health/ready`);
        ensure(status === 200, `users-p answered ${status} on /health/ready; give it a few seconds to start`);
      },
    },
  ],
  '04': [
    runsImage('users-bg', 'microservices-lab/users:dev'),
    {
      what: 'users-bg was started detached (-d)',
      verify: async () => {
        const info = await container('users-bg');
        ensure(!info.Config.AttachStdout, 'users-bg was started attached; remove it and start it again with -d');
      },
    },
  ],
  '05': [
    ...['1.0', '2.0'].map(
      (tag): Check => ({
        what: `image microservices-lab/users:${tag} exists`,
        verify: async () => void (await image(`microservices-lab/users:${tag}`)),
      }),
    ),
    runsImage('users-v1', 'microservices-lab/users:1.0'),
    publishes('users-v1', 8090, 9100),
    runsImage('users-v2', 'microservices-lab/users:2.0'),
    publishes('users-v2', 8090, 9101),
  ],
  '06': [
    runsImage('users-try', 'microservices-lab/users:dev'),
    {
      what: 'users-try runs with LOG_LEVEL=debug',
      verify: async () => {
        const level = envOf(await container('users-try'), 'LOG_LEVEL');
        ensure(level === 'debug', `users-try has LOG_LEVEL=${level ?? '(unset)'}; pass -e LOG_LEVEL=debug`);
      },
    },
    {
      what: 'users-try keeps its data on volume users-try-data at /data',
      verify: async () => {
        const info = await container('users-try');
        const mount = info.Mounts.find((m) => m.Destination === '/data');
        ensure(
          mount?.Type === 'volume' && mount.Name === 'users-try-data',
          'nothing from volume users-try-data is mounted at /data; use -v users-try-data:/data',
        );
        ensure(
          envOf(info, 'DATA_DIR') === '/data',
          'DATA_DIR is not /data, so the database is not on the volume; pass -e DATA_DIR=/data',
        );
      },
    },
    {
      what: 'users-try holds at least one user',
      verify: async () => {
        const count = await nodeIn(
          'users-try',
          "fetch('http://127.0.0.1:8090/').then(r => r.json()).then(b => console.log(b.items.length))",
        );
        ensure(Number(count) >= 1, 'users-try holds no user yet; POST one to it (see the chapter)');
      },
    },
  ],
  '07': [
    {
      what: 'image hello-uptime:1.1 has a HEALTHCHECK',
      verify: async () => {
        const test = (await image('hello-uptime:1.1')).Config.Healthcheck?.Test ?? [];
        ensure(test.length > 0 && test[0] !== 'NONE', 'hello-uptime:1.1 has no HEALTHCHECK instruction');
      },
    },
    runsImage('hello-uptime-try', 'hello-uptime:1.1'),
    {
      what: 'Docker reports hello-uptime-try healthy',
      verify: async () => {
        const health = (await container('hello-uptime-try')).State.Health?.Status;
        ensure(
          health === 'healthy',
          `hello-uptime-try is ${health ?? 'without a health status'}; wait for its checks, or fix the HEALTHCHECK command`,
        );
      },
    },
  ],
  '08': [
    {
      what: 'a registry answers on localhost:5000',
      verify: async () => {
        const status = await fetchStatus('http://127.0.0.1:5000/v2/');
        ensure(status === 200, `localhost:5000 answered ${status}, not as a registry`);
      },
    },
    {
      what: 'the registry holds <you>/users:1.0',
      verify: async () => {
        const repository = `${you()}/users`;
        const res = await fetch(`http://127.0.0.1:5000/v2/${repository}/tags/list`);
        const tags = res.ok ? (((await res.json()) as { tags: string[] | null }).tags ?? []) : [];
        ensure(
          tags.includes('1.0'),
          `the registry has no ${repository}:1.0 (tags: ${tags.join(', ') || 'none'}); docker push localhost:5000/${repository}:1.0`,
        );
      },
    },
  ],
  '09': [
    {
      what: 'network lab-net is a user-defined bridge',
      verify: async () => {
        const info = await network('lab-net');
        ensure(info.Driver === 'bridge', `lab-net uses the ${info.Driver} driver, not bridge`);
      },
    },
    ...['users-net', 'hello-net'].map(
      (name): Check => ({
        what: `${name} runs on lab-net`,
        verify: async () => {
          const info = await runningContainer(name);
          ensure(
            'lab-net' in info.NetworkSettings.Networks,
            `${name} is on ${Object.keys(info.NetworkSettings.Networks).join(', ')}, not lab-net; use --network lab-net`,
          );
        },
      }),
    ),
    {
      what: 'hello-net reaches users-net by name',
      verify: async () => {
        const answer = await nodeIn(
          'hello-net',
          "fetch('http://users-net:8090/health/ready').then(r => console.log(r.status), e => console.log(e.cause?.code ?? e.message))",
        ).catch((error: Error) => error.message);
        ensure(answer === '200', `hello-net asked http://users-net:8090/health/ready and got ${answer}`);
      },
    },
  ],
  '10': [
    {
      what: 'this engine is in swarm mode',
      verify: async () => {
        const state = await docker('info', '--format', '{{.Swarm.LocalNodeState}}');
        ensure(state === 'active', `swarm mode is ${state}; run docker swarm init`);
      },
    },
    {
      what: 'service lab_users runs 5 of 5 replicas',
      verify: async () => {
        const replicas = await docker(
          'service',
          'ls',
          '--filter',
          'name=lab_users',
          '--format',
          '{{.Name}} {{.Replicas}}',
        );
        const line = replicas.split('\n').find((l) => l.startsWith('lab_users '));
        ensure(
          line !== undefined,
          'there is no service lab_users; deploy the stack as lab (docker stack deploy -c infra/swarm/stack.yml lab)',
        );
        const [running, wanted] = (line.split(' ')[1] ?? '').split('/');
        ensure(wanted === '5', `lab_users is set to ${wanted} replicas, not 5; docker service scale lab_users=5`);
        ensure(running === '5', `lab_users runs ${running} of 5 replicas; give swarm a few seconds`);
      },
    },
  ],
  '11': [
    {
      what: 'network lab-macvlan is macvlan on 192.168.77.0/24',
      verify: async () => {
        const info = await network('lab-macvlan');
        ensure(info.Driver === 'macvlan', `lab-macvlan uses the ${info.Driver} driver, not macvlan`);
        const subnets = (info.IPAM.Config ?? []).map((c) => c.Subnet);
        ensure(
          subnets.includes('192.168.77.0/24'),
          `lab-macvlan has subnet ${subnets.join(', ')}, not 192.168.77.0/24`,
        );
      },
    },
    {
      what: 'hello-lan runs on lab-macvlan at 192.168.77.20',
      verify: async () => {
        const info = await runningContainer('hello-lan');
        const address = info.NetworkSettings.Networks['lab-macvlan']?.IPAddress;
        ensure(address !== undefined, 'hello-lan is not on lab-macvlan; use --network lab-macvlan');
        ensure(
          address === '192.168.77.20',
          `hello-lan has ${address || 'no address'} on lab-macvlan, not 192.168.77.20; use --ip 192.168.77.20`,
        );
      },
    },
  ],
};
