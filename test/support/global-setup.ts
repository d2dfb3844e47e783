import { buildConsole } from '../../console/build.ts';

/** Vitest global setup: the meta function imports the console's generated module, so build it first. */
export default function setup(): void {
  buildConsole();
}
