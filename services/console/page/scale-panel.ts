import type { LiveSnapshot } from '../src/live-types.ts';
import { byId, byTestId } from './dom.ts';
import { scaleCommandFor } from './format.ts';

const MAX_REPLICAS = 20;

export function createScalePanel() {
  const count = byTestId('scale-count', HTMLInputElement);
  const command = byTestId('scale-command', HTMLElement);
  const copy = byTestId('scale-copy', HTMLButtonElement);
  const copyResult = byId('scale-copy-result', HTMLElement);
  const current = byId('scale-current', HTMLElement);

  let template: string | null = null;
  /** Once the learner typed a count, snapshots stop proposing one. */
  let typed = false;

  const render = () => {
    const wanted = Number(count.value);
    const valid = count.value.trim() !== '' && Number.isInteger(wanted) && wanted >= 0 && wanted <= MAX_REPLICAS;
    count.setAttribute('aria-invalid', String(!valid));
    if (valid) command.textContent = scaleCommandFor(template, wanted);
  };

  count.addEventListener('input', () => {
    typed = true;
    copyResult.textContent = '';
    render();
  });

  copy.addEventListener('click', async () => {
    const text = command.textContent ?? '';
    try {
      // Only a secure context (https, localhost) has a clipboard: on a LAN address, select instead.
      if (navigator.clipboard === undefined) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      copyResult.textContent = 'Copied: paste it in a terminal beside the compose file.';
    } catch {
      const selection = window.getSelection();
      const range = document.createRange();
      range.selectNodeContents(command);
      selection?.removeAllRanges();
      selection?.addRange(range);
      copyResult.textContent = 'Selected: press Ctrl+C (⌘C) to copy it.';
    }
  });

  return {
    update(snapshot: LiveSnapshot): void {
      template = snapshot.scaleCommand;
      const users = snapshot.services.find((service) => service.name === 'users');
      const replicas = users?.replicas.length ?? 0;
      current.textContent = `users has ${replicas} ${replicas === 1 ? 'replica' : 'replicas'} now.`;
      if (!typed && document.activeElement !== count) count.value = String(Math.min(replicas + 1, MAX_REPLICAS));
      render();
    },
    prepare(replicas: number): void {
      typed = true;
      count.value = String(replicas);
      render();
      copy.focus();
    },
  };
}
