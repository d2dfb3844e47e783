import { buildConsole } from '../../console/build.ts';
import { installNetworkGuard } from './network-guard.ts';

/**
 * Vitest global setup: the meta function imports the console's generated module, so build it
 * first. The main process gets the network guard too (the workers get it from setupFiles).
 */
export default function setup(): void {
  installNetworkGuard();
  buildConsole();
}
