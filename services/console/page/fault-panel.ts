import type { FaultSettings, LiveSnapshot, ServiceNode } from '../src/live-types.ts';
import { byId, byTestId, html } from './dom.ts';
import { faultBadge, shortId } from './format.ts';

export interface FaultTarget {
  /** `<service>` or `<service>/<replicaId>`, as the fault-target select's option values. */
  value: string;
  label: string;
  available: boolean;
}

interface FaultResult {
  replica: string;
  ok: boolean;
  status: number;
  error?: string;
}

export interface Outcome {
  ok: boolean;
  text: string;
}

export interface FaultForm {
  latencyMs: string;
  errorPercent: string;
  errorStatus: string;
  hang: boolean;
}

export const FAULTS_OFF_HINT = 'start the stack with LAB_FAULTS=on docker compose --profile lab up';

function servicesOf(snapshot: LiveSnapshot): ServiceNode[] {
  return snapshot.monolith === null ? snapshot.services : [...snapshot.services, snapshot.monolith];
}

export function faultTargets(snapshot: LiveSnapshot): FaultTarget[] {
  const targets: FaultTarget[] = [];
  for (const service of servicesOf(snapshot)) {
    const available = service.replicas.some((replica) => replica.faultsAvailable);
    const off = available ? '' : ' (faults off)';
    targets.push({ value: service.name, label: `${service.name} · all replicas${off}`, available });
    for (const replica of service.replicas) {
      targets.push({
        value: `${service.name}/${replica.id}`,
        label: `${service.name} / ${shortId(replica.id)}${replica.faultsAvailable ? '' : ' (faults off)'}`,
        available: replica.faultsAvailable,
      });
    }
  }
  return targets;
}

/** "users/3f2a1c9b0d12", for messages: full container ids are too long to read. */
export function targetLabel(target: string): string {
  const slash = target.indexOf('/');
  return slash === -1 ? target : `${target.slice(0, slash)}/${shortId(target.slice(slash + 1))}`;
}

export function faultPath(target: string): string {
  const slash = target.indexOf('/');
  if (slash === -1) return `/api/faults/${encodeURIComponent(target)}`;
  return `/api/faults/${encodeURIComponent(target.slice(0, slash))}/${encodeURIComponent(target.slice(slash + 1))}`;
}

/** The PUT body for the form's values, or the reason they cannot be sent. */
export function parseFaultForm(form: FaultForm): FaultSettings | string {
  const number = (value: string) => (value.trim() === '' ? 0 : Number(value));
  const latencyMs = number(form.latencyMs);
  const errorPercent = number(form.errorPercent);
  const errorStatus = form.errorStatus.trim() === '' ? 503 : Number(form.errorStatus);
  if (!Number.isInteger(latencyMs) || latencyMs < 0 || latencyMs > 60_000) {
    return 'Latency must be a whole number of ms from 0 to 60000.';
  }
  if (!Number.isFinite(errorPercent) || errorPercent < 0 || errorPercent > 100) {
    return 'Error rate must be a percentage from 0 to 100.';
  }
  if (!Number.isInteger(errorStatus) || errorStatus < 400 || errorStatus > 599) {
    return 'Error status must be an HTTP status from 400 to 599.';
  }
  return { latencyMs, errorRate: errorPercent / 100, errorStatus, hang: form.hang };
}

/** One line for the result area, from an answer's status and JSON body. */
export function describeOutcome(action: string, target: string, status: number, body: unknown): Outcome {
  const results = (body as { results?: unknown } | null)?.results;
  if (status >= 200 && status < 300 && Array.isArray(results)) {
    const list = results as FaultResult[];
    if (list.length === 0) return { ok: false, text: `${action} ${target}: no replica to send it to.` };
    const parts = list.map((result) =>
      result.ok
        ? `${shortId(result.replica)} ok`
        : `${shortId(result.replica)} failed (${result.error ?? `HTTP ${result.status}`})`,
    );
    return { ok: list.every((result) => result.ok), text: `${action} ${target}: ${parts.join(', ')}` };
  }
  const problem = body as { title?: unknown; detail?: unknown } | null;
  const reason = [problem?.title, problem?.detail].filter((part) => typeof part === 'string').join(': ');
  return { ok: false, text: `${action} ${target} failed: ${reason || `HTTP ${status}`}` };
}

export function createFaultPanel() {
  const select = byTestId('fault-target', HTMLSelectElement);
  const latency = byTestId('fault-latency-ms', HTMLInputElement);
  const errorRate = byTestId('fault-error-rate', HTMLInputElement);
  const errorStatus = byTestId('fault-error-status', HTMLInputElement);
  const hang = byTestId('fault-hang', HTMLInputElement);
  const apply = byTestId('fault-apply', HTMLButtonElement);
  const clear = byTestId('fault-clear', HTMLButtonElement);
  const crash = byTestId('fault-crash', HTMLButtonElement);
  const result = byTestId('fault-result', HTMLElement);
  const active = byTestId('active-faults', HTMLElement);
  const hint = byId('fault-hint', HTMLElement);

  let targets: FaultTarget[] = [];
  /** What the learner picked; survives the option list being rebuilt. */
  let chosen: string | null = null;
  let pending = false;
  let activeSignature: string | null = null;

  const showOutcome = (outcome: Outcome) => {
    result.textContent = outcome.text;
    result.dataset.ok = String(outcome.ok);
  };

  const refreshControls = () => {
    const target = targets.find((candidate) => candidate.value === select.value);
    const available = target?.available ?? false;
    for (const control of [latency, errorRate, errorStatus, hang]) control.disabled = !available;
    for (const button of [apply, clear, crash]) button.disabled = !available || pending;
    hint.hidden = target === undefined || available;
    hint.textContent = target === undefined ? '' : `Faults are off for ${target.value}: ${FAULTS_OFF_HINT}`;
  };

  const syncOptions = () => {
    const existing = new Map([...select.options].map((option) => [option.value, option]));
    targets.forEach((target, index) => {
      const option = existing.get(target.value) ?? new Option(target.label, target.value);
      existing.delete(target.value);
      if (option.text !== target.label) option.text = target.label;
      if (select.options[index] !== option) select.add(option, index);
    });
    for (const stale of existing.values()) stale.remove();
    const values = new Set(targets.map((target) => target.value));
    // A replica that went away (crashed, scaled down) hands the selection to its service.
    if (chosen !== null && !values.has(chosen)) chosen = chosen.split('/')[0] ?? null;
    if (chosen === null || !values.has(chosen)) chosen = values.has('users') ? 'users' : (targets[0]?.value ?? null);
    if (chosen !== null && select.value !== chosen) select.value = chosen;
  };

  const send = async (action: string, method: 'PUT' | 'DELETE', body?: object) => {
    const target = select.value;
    if (target === '') return;
    pending = true;
    refreshControls();
    result.dataset.ok = '';
    const label = targetLabel(target);
    result.textContent = `${action} ${label}…`;
    try {
      const response = await fetch(faultPath(target), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      });
      const answer: unknown = await response.json().catch(() => null);
      showOutcome(describeOutcome(action, label, response.status, answer));
    } catch (error) {
      showOutcome({
        ok: false,
        text: `${action} ${label} failed: the console did not answer (${error instanceof Error ? error.message : error})`,
      });
    } finally {
      pending = false;
      refreshControls();
    }
  };

  select.addEventListener('change', () => {
    chosen = select.value;
    refreshControls();
  });
  apply.addEventListener('click', () => {
    const settings = parseFaultForm({
      latencyMs: latency.value,
      errorPercent: errorRate.value,
      errorStatus: errorStatus.value,
      hang: hang.checked,
    });
    if (typeof settings === 'string') showOutcome({ ok: false, text: settings });
    else void send(`Apply ${faultBadge(settings) ?? 'no fault'} to`, 'PUT', settings);
  });
  clear.addEventListener('click', () => void send('Clear faults on', 'DELETE'));
  crash.addEventListener('click', () => void send('Crash', 'PUT', { crash: true }));
  active.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-target]') : null;
    if (!(button instanceof HTMLButtonElement) || button.dataset.target === undefined) return;
    chosen = button.dataset.target;
    select.value = chosen;
    refreshControls();
    void send('Clear faults on', 'DELETE');
  });

  const renderActive = (snapshot: LiveSnapshot) => {
    const entries = servicesOf(snapshot).flatMap((service) =>
      service.replicas.flatMap((replica) => {
        const badge = faultBadge(replica.faults);
        return badge === null ? [] : [{ service: service.name, replica: replica.id, badge }];
      }),
    );
    const signature = JSON.stringify(entries);
    if (signature === activeSignature) return;
    activeSignature = signature;
    if (entries.length === 0) {
      active.replaceChildren(html('li', { class: 'muted' }, 'No active fault.'));
      return;
    }
    active.replaceChildren(
      ...entries.map((entry) =>
        html(
          'li',
          { 'data-service': entry.service, 'data-replica': entry.replica },
          html('span', { class: 'mono' }, `${entry.service} / ${shortId(entry.replica)}`),
          html('span', { class: 'fault-badge' }, entry.badge),
          html(
            'button',
            { type: 'button', class: 'link-button', 'data-target': `${entry.service}/${entry.replica}` },
            'clear',
          ),
        ),
      ),
    );
  };

  return {
    update(snapshot: LiveSnapshot): void {
      targets = faultTargets(snapshot);
      syncOptions();
      refreshControls();
      renderActive(snapshot);
    },
    /** Fills the form for a "what to try" step; the learner still presses the button. */
    prepare(target: string, form: Partial<FaultForm>, focus: 'apply' | 'crash'): void {
      if (targets.some((candidate) => candidate.value === target)) {
        chosen = target;
        select.value = target;
      }
      if (form.latencyMs !== undefined) latency.value = form.latencyMs;
      if (form.errorPercent !== undefined) errorRate.value = form.errorPercent;
      if (form.errorStatus !== undefined) errorStatus.value = form.errorStatus;
      if (form.hang !== undefined) hang.checked = form.hang;
      refreshControls();
      (focus === 'crash' ? crash : apply).focus();
    },
  };
}
