import { copyButton, h } from './dom.ts';

/**
 * Shows a secret the vault returns exactly once (a new auth token, a runner signing secret, an
 * API key): masked until Show, with Copy buttons (the value, and `copies`: e.g. the header it is
 * sent in) and a warning. "I have saved it" removes it from the page; leaving the page does too.
 * It is never written to storage, the URL or a log.
 */
export function secretOnce(opts: {
  title: string;
  value: string;
  warning: string;
  testId: string;
  done: () => void;
  extra?: HTMLElement;
  /** The label of the button copying the value ("Copy" by default). */
  copyLabel?: string;
  /** More copy buttons: label → the text they copy, built from the value. */
  copies?: Readonly<Record<string, (value: string) => string>>;
  /** Below the buttons (e.g. a test of the new profile). */
  below?: HTMLElement;
}): HTMLElement {
  let value: string | undefined = opts.value;
  let shown = false;
  const mask = () => '•'.repeat(Math.min(value?.length ?? 0, 48));
  const code = h('code', { class: 'secret', 'data-testid': opts.testId, 'data-masked': 'true' }, mask());
  const toggle = h('button', {
    type: 'button',
    class: 'secondary',
    'data-testid': `${opts.testId}-toggle`,
    on: {
      click: () => {
        shown = !shown;
        code.textContent = shown ? (value ?? '') : mask();
        code.dataset.masked = String(!shown);
        toggle.textContent = shown ? 'Hide' : 'Show';
      },
    },
  }, 'Show');
  const copies = Object.entries(opts.copies ?? {}).map(([label, text]) => copyButton(() => (value ? text(value) : ''), label));
  const panel = h(
    'section',
    { class: 'card once', role: 'alert' },
    h('h2', {}, opts.title),
    h('p', { class: 'warning' }, opts.warning),
    h('div', { class: 'secret-row' }, code, toggle),
    h('div', { class: 'actions' }, copyButton(() => value ?? '', opts.copyLabel ?? 'Copy'), ...copies),
    opts.below ?? null,
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
