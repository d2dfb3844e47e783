import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, found from this file rather than the working directory, so that
 * `cdk synth`, the tests and any other caller bundle the same files.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of a Lambda entry point, e.g. `handlerEntry('agents')` → `<root>/functions/agents.ts`. */
export function handlerEntry(name: string): string {
  return join(REPO_ROOT, 'functions', `${name}.ts`);
}

/** True when every named handler file exists (bundling needs them; template-only tests do not). */
export function handlerEntriesExist(names: readonly string[]): boolean {
  return names.every((n) => existsSync(handlerEntry(n)));
}

/** Every Lambda handler's name (a file of functions/ without `.ts`), in the directory's order. */
export function handlerNames(): string[] {
  return readdirSync(join(REPO_ROOT, 'functions'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -'.ts'.length));
}
