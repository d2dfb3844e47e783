import { copyButton, h } from './dom.ts';

/**
 * Shows a secret the vault returns exactly once (a new auth token, a runner signing secret), with
 * a copy button and a warning. "Done" removes it from the page; leaving the page does too. It is
 * never written to storage, the URL or a log.
 */
export function secretOnce(opts: { title: string; value: string; warning: string; testId: string; done: () => void; extra?: HTMLElement }): HTMLElement {
  let value: string | undefined = opts.value;
  const code = h('code', { class: 'secret', 'data-testid': opts.testId }, value);
  const panel = h(
    'section',
    { class: 'card once', role: 'alert' },
    h('h2', {}, opts.title),
    h('p', { class: 'warning' }, opts.warning),
    h('div', { class: 'secret-row' }, code, copyButton(() => value ?? '')),
    h(
      'div',
      { class: 'actions' },
      opts.extra ?? null,
      h('button', {
        type: 'button',
        on: {
          click: () => {
            value = undefined;
            code.textContent = '';
            panel.remove();
            opts.done();
          },
        },
      }, 'I have saved it'),
    ),
  );
  return panel;
}
