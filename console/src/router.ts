import { ApiError } from './api.ts';
import { type Child, h, replace } from './dom.ts';

/** What a page's render function gets. */
export interface PageContext {
  /** Values of the `:name` segments of the route, decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Goes to another route (`/agents/x`), rendering it. */
  navigate(to: string): void;
  /** Runs `fn` when the user leaves the page (timers, polling). */
  onLeave(fn: () => void): void;
  /** Whether the user is still on this page (false after navigating away: stop async work). */
  readonly active: () => boolean;
}

/**
 * A page of the console: one module each under pages/, listed in pages/index.ts. `path` is a
 * hash route with `:name` segments (`/agents/:agent_id`); `nav` puts it in the top bar.
 */
export interface Page {
  readonly path: string;
  readonly title: string | ((params: Readonly<Record<string, string>>) => string);
  readonly nav?: { readonly label: string; readonly order: number };
  /** Pages reachable without an API key (only the sign-in page). */
  readonly public?: boolean;
  render(ctx: PageContext): Child | Promise<Child>;
}

interface Compiled {
  readonly page: Page;
  readonly regex: RegExp;
  readonly names: string[];
}

/** Builds a route path with every value encoded as one segment: `route('/agents/:id', {id})`. */
export function route(pattern: string, params: Readonly<Record<string, string>> = {}): string {
  return pattern.replace(/:([a-z_]+)/g, (_m, name: string) => encodeURIComponent(params[name] ?? ''));
}

/** Hash-based router: the server serves one document; ids in the hash, never a key or a token. */
export class Router {
  private readonly compiled: Compiled[];
  private leave: (() => void)[] = [];
  private generation = 0;

  constructor(
    pages: readonly Page[],
    private readonly outlet: HTMLElement,
    private readonly guard: (page: Page) => string | undefined,
    private readonly onRendered: (page: Page | undefined) => void,
  ) {
    this.compiled = pages.map((page) => {
      const names: string[] = [];
      const source = page.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-z_]+)/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { page, names, regex: new RegExp(`^${source}$`) };
    });
  }

  start(): void {
    window.addEventListener('hashchange', () => void this.render());
    void this.render();
  }

  navigate(to: string): void {
    if (location.hash === `#${to}`) void this.render();
    else location.hash = to;
  }

  /** Renders the page for the current hash (or the guard's redirect). */
  async render(): Promise<void> {
    for (const fn of this.leave.splice(0)) fn();
    const generation = ++this.generation;
    const current = location.hash.replace(/^#/, '') || '/';
    const match = this.match(current);
    if (!match) {
      this.onRendered(undefined);
      replace(this.outlet, h('h1', {}, 'Not found'), h('p', {}, 'No console page at this address. ', h('a', { href: '#/agents' }, 'Go to agents')));
      return;
    }
    const redirect = this.guard(match.page);
    if (redirect !== undefined && redirect !== current) {
      this.navigate(redirect);
      return;
    }
    const ctx: PageContext = {
      params: match.params,
      navigate: (to) => this.navigate(to),
      onLeave: (fn) => this.leave.push(fn),
      active: () => generation === this.generation,
    };
    const title = typeof match.page.title === 'function' ? match.page.title(match.params) : match.page.title;
    document.title = `${title} · agent-vault`;
    this.onRendered(match.page);
    replace(this.outlet, h('p', { class: 'loading' }, 'Loading…'));
    let content: Child;
    try {
      content = await match.page.render(ctx);
    } catch (err) {
      content = errorPanel(err);
    }
    if (ctx.active()) replace(this.outlet, content);
  }

  private match(path: string): { page: Page; params: Record<string, string> } | undefined {
    for (const { page, regex, names } of this.compiled) {
      const m = regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      try {
        names.forEach((n, i) => {
          params[n] = decodeURIComponent(m[i + 1] ?? '');
        });
      } catch {
        return undefined;
      }
      return { page, params };
    }
    return undefined;
  }
}

/** A page-level error: the vault's code and message, as text. */
export function errorPanel(err: unknown): HTMLElement {
  const e = err instanceof ApiError ? err : new ApiError(0, 'console_error', err instanceof Error ? err.message : String(err));
  return h('div', { class: 'notice notice-error', role: 'alert', 'data-testid': 'error' }, h('strong', {}, e.status ? `${e.status} ${e.code}: ` : `${e.code}: `), e.message);
}
