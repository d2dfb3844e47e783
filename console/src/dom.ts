/**
 * The console's only way to build DOM. Text goes in as text nodes (never parsed as HTML), and the
 * attribute setter refuses `style`, inline event handlers and `javascript:` links, so nothing here
 * can need 'unsafe-inline' in the Content-Security-Policy or turn data into markup.
 */
export type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  readonly [name: string]: string | number | boolean | undefined | Listeners;
}
type Listeners = { readonly [event: string]: (e: Event) => void };

const FORBIDDEN_ATTRS = /^(style|on.*|srcdoc|innerhtml|outerhtml)$/i;

/** Creates an element; `on: { click() {} }` adds listeners, `false`/`undefined` attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'on') {
      for (const [event, fn] of Object.entries(value as Listeners)) el.addEventListener(event, fn);
      continue;
    }
    if (FORBIDDEN_ATTRS.test(name)) throw new Error(`attribute ${name} is not allowed in the console`);
    if (value === undefined || value === false) continue;
    const text = value === true ? '' : String(value);
    if (name === 'href' && !text.startsWith('#/')) throw new Error('console links must be #/ routes');
    el.setAttribute(name, text);
  }
  append(el, ...children);
  return el;
}

/** Appends children as nodes; strings and numbers become text nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** A status badge: `kind` picks the colour class (ok, warn, bad, muted). */
export const badge = (text: string, kind: 'ok' | 'warn' | 'bad' | 'muted' = 'muted') => h('span', { class: `badge badge-${kind}`, 'data-badge': text }, text);

/** An ISO timestamp rendered in the browser's locale, with the exact value as a tooltip. */
export function time(iso: string | undefined, empty = '—'): Node {
  if (!iso) return document.createTextNode(empty);
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, Number.isNaN(d.getTime()) ? iso : d.toLocaleString());
}

export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => Child;
  /** Left out when this says the data has no such field (e.g. an API that does not return it yet). */
  readonly present?: (rows: readonly T[]) => boolean;
}

/** A table of `rows`; columns whose data is absent from every row are not rendered. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string, testId?: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  const shown = columns.filter((c) => !c.present || c.present(rows));
  return h(
    'table',
    { 'data-testid': testId },
    h('thead', {}, h('tr', {}, ...shown.map((c) => h('th', { scope: 'col' }, c.header)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...shown.map((c) => h('td', {}, c.cell(r)))))),
  );
}

/** A labelled form field wrapping `control`. */
export const field = (label: string, control: HTMLElement, hint?: string) =>
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('span', { class: 'hint' }, hint) : null);

/** A definition list of label/value pairs; pairs with an undefined value are left out. */
export function details(pairs: readonly (readonly [string, Child])[]): HTMLElement {
  const dl = h('dl', { class: 'details' });
  for (const [k, v] of pairs) if (v !== undefined) append(dl, h('dt', {}, k), h('dd', {}, v));
  return dl;
}

/** Inline message area: `show(text, kind)` sets it, `clear()` empties it. */
export function notice() {
  const el = h('p', { class: 'notice', role: 'status', hidden: true });
  return {
    el,
    show(text: string, kind: 'error' | 'info' = 'error') {
      el.className = `notice notice-${kind}`;
      el.textContent = text;
      el.hidden = false;
    },
    clear() {
      el.textContent = '';
      el.hidden = true;
    },
  };
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(text: () => string, label = 'Copy'): HTMLButtonElement {
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    on: {
      click: async () => {
        try {
          await navigator.clipboard.writeText(text());
          button.textContent = 'Copied';
        } catch {
          button.textContent = 'Copy failed: select the text and copy it';
        }
        setTimeout(() => {
          button.textContent = label;
        }, 2000);
      },
    },
  }, label);
  return button;
}
