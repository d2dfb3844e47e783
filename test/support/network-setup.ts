import { installNetworkGuard } from './network-guard.ts';

/** Vitest setup file (every worker, before each test file): nothing a test runs may leave the machine. */
installNetworkGuard();
