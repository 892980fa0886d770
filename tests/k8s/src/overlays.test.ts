import { readFileSync } from 'node:fs';
import { CPU_QUOTA, MEMORY_LIMIT_MIB, REPO_ROOT, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import { beforeAll, describe, expect, it } from 'vitest';
import { type K8sObject, OVERLAYS, renderOverlay } from './kustomize.ts';
import { formatProblem, validateObjects } from './validate-manifest.ts';

const APP_SERVICES = ['hello', 'users', 'gateway'] as const;
const NAMESPACE = 'microservices-lab';

/** `160Mi` in MiB, `100m` or `1` in cores: the two quantity forms the manifests use. */
const mebibytes = (quantity: unknown) => Number(/^(\d+)Mi$/.exec(String(quantity))?.[1] ?? Number.NaN);
const cores = (quantity: unknown) => {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
};

interface Workload {
  name: string;
  podLabels: Record<string, string>;
  pod: IPodSpec;
}

function inspect(objects: readonly K8sObject[]) {
  const ofKind = <T>(kind: string) => objects.filter((object) => object.kind === kind) as unknown as T[];
  const named = <T extends { metadata?: { name?: string } }>(kind: string, name: string): T => {
    const found = ofKind<T>(kind).find((object) => object.metadata?.name === name);
    if (!found) throw new Error(`no ${kind}/${name} rendered`);
    return found;
  };
  const workloads: Workload[] = [...ofKind<IDeployment>('Deployment'), ...ofKind<IStatefulSet>('StatefulSet')].map(
    (workload) => ({
      name: workload.metadata?.name ?? '',
      podLabels: workload.spec?.template.metadata?.labels ?? {},
      pod: workload.spec?.template.spec ?? { containers: [] },
    }),
  );
  const workload = (name: string) => {
    const found = workloads.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no workload ${name} rendered`);
    return found;
  };
  const container = (name: string): IContainer => {
    const found = workload(name).pod.containers.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`workload ${name} has no container named ${name}`);
    return found;
  };
  /** Pods whose labels a selector's matchLabels all match. */
  const selected = (matchLabels: Record<string, string> | undefined) =>
    workloads
      .filter((candidate) =>
        Object.entries(matchLabels ?? {}).every(([key, value]) => candidate.podLabels[key] === value),
      )
      .map((candidate) => candidate.name);
  return { ofKind, named, workloads, workload, container, selected };
}

it('has exactly the local and registry overlays', () => {
  expect(OVERLAYS).toEqual(['local', 'registry']);
});

describe.each(OVERLAYS)('the %s overlay', (overlay) => {
  let objects: K8sObject[];
  let k8s: ReturnType<typeof inspect>;

  beforeAll(async () => {
    ({ objects } = await renderOverlay(overlay));
    k8s = inspect(objects);
  });

  it('renders the system: three services, PostgreSQL and their policies', () => {
    const names = objects.map((object) => `${object.kind}/${object.metadata.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        `Namespace/${NAMESPACE}`,
        ...APP_SERVICES.flatMap((service) => [`Deployment/${service}`, `Service/${service}`]),
        'StatefulSet/postgres',
        'Service/postgres',
        'NetworkPolicy/hello-from-gateway',
        'NetworkPolicy/users-from-gateway',
        'NetworkPolicy/postgres-from-users',
        'PodDisruptionBudget/users',
        'HorizontalPodAutoscaler/users',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
    for (const object of objects.filter((candidate) => candidate.kind !== 'Namespace')) {
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe(NAMESPACE);
    }
  });

  it('validates every rendered object against the Kubernetes API schemas, unknown fields failing', async () => {
    expect((await validateObjects(objects)).map(formatProblem)).toEqual([]);
  });

  it('gives every container readiness and liveness probes, requests and limits, and no privileges', () => {
    expect(k8s.workloads.map((workload) => workload.name).sort()).toEqual(['gateway', 'hello', 'postgres', 'users']);
    for (const { name, pod } of k8s.workloads) {
      expect(pod.automountServiceAccountToken, name).toBe(false);
      expect(pod.initContainers ?? [], name).toEqual([]);
      for (const container of pod.containers) {
        const where = `${name}/${container.name}`;
        expect(container.readinessProbe, where).toBeDefined();
        expect(container.livenessProbe, where).toBeDefined();
        for (const resource of ['cpu', 'memory']) {
          expect(container.resources?.requests?.[resource], `${where} requests.${resource}`).toBeDefined();
          expect(container.resources?.limits?.[resource], `${where} limits.${resource}`).toBeDefined();
        }
        // The container's setting where it has one, else the pod's: what the kubelet applies.
        const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        expect(container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, where).toBe(true);
        expect(runAsUser, where).toBeGreaterThan(0);
        expect(container.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(container.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(container.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect(container.securityContext?.capabilities?.add ?? [], where).toEqual([]);
        expect((container.securityContext?.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, where).toBe(
          'RuntimeDefault',
        );
        const tmp = container.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
        expect(pod.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir, `${where} /tmp`).toBeDefined();
      }
    }
  });

  it("runs hello, users and the gateway as their images' node user (1000) within .env's measured limits", () => {
    for (const service of APP_SERVICES) {
      const { pod } = k8s.workload(service);
      const container = k8s.container(service);
      expect(pod.securityContext?.runAsUser, service).toBe(1000);
      expect(mebibytes(container.resources?.limits?.memory), service).toBe(MEMORY_LIMIT_MIB[service]);
      expect(cores(container.resources?.limits?.cpu), service).toBe(CPU_QUOTA[service]);
      expect(mebibytes(container.resources?.requests?.memory), service).toBeLessThanOrEqual(MEMORY_LIMIT_MIB[service]);
      expect(
        container.ports?.map((port) => port.containerPort),
        service,
      ).toEqual([SERVICE_PORTS[service]]);
      expect(container.env?.find((variable) => variable.name === 'PORT')?.value, service).toBe(
        String(SERVICE_PORTS[service]),
      );
      expect(container.readinessProbe?.httpGet?.path, service).toBe('/health/ready');
      expect(container.livenessProbe?.httpGet?.path, service).toBe('/health/live');
    }
  });

  it('puts hello and users behind headless Services, so DNS answers one address per ready pod', () => {
    for (const service of ['hello', 'users'] as const) {
      const { spec } = k8s.named<IService>('Service', service);
      expect(spec?.clusterIP, service).toBe('None');
      expect(spec?.publishNotReadyAddresses ?? false, service).toBe(false);
      expect(k8s.selected(spec?.selector), service).toEqual([service]);
      expect(
        spec?.ports?.map((port) => [port.port, port.targetPort]),
        service,
      ).toEqual([[SERVICE_PORTS[service], 'http']]);
      expect(k8s.container(service).ports?.[0]?.name, service).toBe('http');
    }
    const gateway = k8s.named<IService>('Service', 'gateway').spec;
    expect(gateway?.clusterIP).toBeUndefined();
    expect(gateway?.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(k8s.selected(gateway?.selector)).toEqual(['gateway']);
  });

  it("points the gateway's HELLO_URL and USERS_URL at those headless Services and their ports", () => {
    const env = Object.fromEntries((k8s.container('gateway').env ?? []).map((variable) => [variable.name, variable]));
    for (const service of ['hello', 'users'] as const) {
      const url = new URL(env[`${service.toUpperCase()}_URL`]?.value ?? 'missing:');
      expect(url.protocol, service).toBe('http:');
      const target = k8s.named<IService>('Service', url.hostname);
      expect(target.spec?.clusterIP, service).toBe('None');
      expect(k8s.selected(target.spec?.selector), service).toEqual([service]);
      expect(
        target.spec?.ports?.map((port) => port.port),
        service,
      ).toContain(Number(url.port));
    }
  });

  it('#21 finding 18: always gives users its PostgreSQL URL as a file from a Secret, never in its environment', () => {
    const container = k8s.container('users');
    const env = container.env ?? [];
    expect(env.filter((variable) => variable.name.startsWith('DATABASE_URL')).map((variable) => variable.name)).toEqual(
      ['DATABASE_URL_FILE'],
    );
    // Neither the superuser's credentials nor any other secret reaches users' environment.
    expect(env.filter((variable) => variable.valueFrom?.secretKeyRef)).toEqual([]);
    const path = env.find((variable) => variable.name === 'DATABASE_URL_FILE')?.value ?? '';
    const mount = container.volumeMounts?.find((candidate) => path.startsWith(`${candidate.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = k8s.workload('users').pod.volumes?.find((candidate) => candidate.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('users-database');
    expect(volume?.secret?.items).toEqual([{ key: 'url', path: path.slice((mount?.mountPath.length ?? 0) + 1) }]);
    const postgres = k8s.named<IService>('Service', 'postgres');
    expect(postgres.spec?.clusterIP).toBe('None');
    expect(k8s.selected(postgres.spec?.selector)).toEqual(['postgres']);
    expect(postgres.spec?.ports?.map((port) => port.port)).toEqual([5432]);
    // No volume for DATA_DIR: a SQLite file per pod is exactly what must not happen.
    expect(k8s.workload('users').pod.volumes?.map((candidate) => candidate.name)).toEqual(['tmp', 'database-url']);
  });

  it("#21 finding 12: has PostgreSQL's first start make users_app, the role users' URL names, from the users Secret", () => {
    const container = k8s.container('postgres');
    const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable]));
    expect(env.USERS_DB_PASSWORD?.valueFrom?.secretKeyRef).toEqual({ name: 'users-database', key: 'password' });
    const initdb = container.volumeMounts?.find((mount) => mount.mountPath === '/docker-entrypoint-initdb.d');
    expect(initdb?.readOnly).toBe(true);
    const configMapName = k8s.workload('postgres').pod.volumes?.find((volume) => volume.name === initdb?.name)
      ?.configMap?.name;
    const configMap = k8s.named<K8sObject & { data?: Record<string, string> }>('ConfigMap', configMapName ?? '');
    const script = configMap.data?.['10-users-app.sh'] ?? '';
    expect(script).toBe(readFileSync(`${REPO_ROOT}infra/postgres/initdb.d/10-users-app.sh`, 'utf8'));
    expect(script).toMatch(/CREATE ROLE users_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE/);
    expect(script).toMatch(/CREATE SCHEMA users AUTHORIZATION users_app/);
    if (overlay === 'local') {
      const secret = k8s.named<K8sObject & { stringData?: Record<string, string> }>('Secret', 'users-database');
      const url = new URL(secret.stringData?.url ?? 'missing:');
      expect([url.username, decodeURIComponent(url.password), url.host, url.pathname]).toEqual([
        'users_app',
        secret.stringData?.password,
        'postgres:5432',
        '/users',
      ]);
    }
  });

  it('keeps PostgreSQL on a PersistentVolumeClaim, as the alpine image user 70', () => {
    const postgres = k8s.named<IStatefulSet>('StatefulSet', 'postgres');
    expect(postgres.spec?.serviceName).toBe('postgres');
    expect(postgres.spec?.replicas).toBe(1);
    const { pod } = k8s.workload('postgres');
    expect(pod.securityContext).toMatchObject({ runAsUser: 70, runAsGroup: 70, fsGroup: 70, runAsNonRoot: true });
    const container = k8s.container('postgres');
    expect(container.image).toBe('postgres:17-alpine');
    const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable]));
    expect(env.PGDATA?.value).toBe('/var/lib/postgresql/data/pgdata');
    expect(env.POSTGRES_PASSWORD?.valueFrom?.secretKeyRef?.name).toBe('postgres-credentials');
    const claim = postgres.spec?.volumeClaimTemplates?.[0];
    const dataMount = container.volumeMounts?.find((mount) => mount.name === claim?.metadata?.name);
    expect(dataMount?.mountPath).toBe('/var/lib/postgresql/data');
    expect(container.readinessProbe?.exec?.command?.[0]).toBe('pg_isready');
    expect(container.livenessProbe?.exec?.command?.[0]).toBe('pg_isready');
  });

  it('lets only gateway pods reach hello and users, and only users pods reach PostgreSQL', () => {
    const policies = k8s.ofKind<INetworkPolicy>('NetworkPolicy');
    const ingressTo = (target: string) => {
      const covering = policies.filter((policy) =>
        k8s.selected(policy.spec?.podSelector?.matchLabels).includes(target),
      );
      const rules = covering.flatMap((policy) => policy.spec?.ingress ?? []);
      const peers = rules.flatMap((rule) => rule.from ?? []);
      return {
        isolated: covering.length > 0 && covering.every((policy) => policy.spec?.policyTypes?.includes('Ingress')),
        // A rule without `from` admits every source.
        openRules: rules.filter((rule) => (rule.from ?? []).length === 0).length,
        // Anything but a pod selector in this namespace (an IP block, other namespaces) admits more.
        otherPeers: peers.filter((peer) => peer.ipBlock || peer.namespaceSelector || !peer.podSelector).length,
        sources: [...new Set(peers.flatMap((peer) => k8s.selected(peer.podSelector?.matchLabels)))],
        ports: rules.flatMap((rule) => (rule.ports ?? []).map((port) => port.port)),
      };
    };
    const onlyFrom = (source: string, port: number) => ({
      isolated: true,
      openRules: 0,
      otherPeers: 0,
      sources: [source],
      ports: [port],
    });
    expect(ingressTo('hello')).toEqual(onlyFrom('gateway', SERVICE_PORTS.hello));
    expect(ingressTo('users')).toEqual(onlyFrom('gateway', SERVICE_PORTS.users));
    expect(ingressTo('postgres')).toEqual(onlyFrom('users', 5432));
  });

  it('keeps a users pod through voluntary disruptions and scales users on CPU', () => {
    const budget = k8s.named<IPodDisruptionBudget>('PodDisruptionBudget', 'users');
    expect(k8s.selected(budget.spec?.selector?.matchLabels)).toEqual(['users']);
    expect(budget.spec?.minAvailable).toBe(1);

    const autoscaler = k8s.named<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'users');
    expect(autoscaler.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'users' });
    expect(autoscaler.spec?.minReplicas).toBe(2);
    expect(autoscaler.spec?.maxReplicas).toBeGreaterThan(2);
    expect(autoscaler.spec?.metrics?.[0]?.resource).toMatchObject({
      name: 'cpu',
      target: { type: 'Utilization', averageUtilization: 70 },
    });
    // Utilisation is a share of the request: the request is the measured 0.1 core replica.
    expect(cores(k8s.container('users').resources?.requests?.cpu)).toBe(CPU_QUOTA.users);
    // A replicas field would reset the autoscaler's count on every apply.
    expect(k8s.named<IDeployment>('Deployment', 'users').spec?.replicas).toBeUndefined();
  });
});

describe('images', () => {
  it("runs the local overlay on this machine's microservices-lab/*:dev images, never pulling them", async () => {
    const k8s = inspect((await renderOverlay('local')).objects);
    for (const service of APP_SERVICES) {
      expect(k8s.container(service).image, service).toBe(`microservices-lab/${service}:dev`);
      expect(k8s.container(service).imagePullPolicy, service).toBe('Never');
    }
    expect(k8s.ofKind('Secret').map((secret) => (secret as K8sObject).metadata.name)).toEqual([
      'postgres-credentials',
      'users-database',
    ]);
  });

  it('runs the registry overlay on registry images, and leaves the database password to the cluster', async () => {
    const k8s = inspect((await renderOverlay('registry')).objects);
    for (const service of APP_SERVICES) {
      expect(k8s.container(service).image, service).toMatch(
        new RegExp(`^registry\\.example\\.com/microservices-lab/${service}:[\\w.-]+$`),
      );
      expect(k8s.container(service).imagePullPolicy, service).toBeUndefined();
    }
    expect(k8s.ofKind('Secret')).toEqual([]);
  });
});
