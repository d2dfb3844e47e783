import { defineConfig } from 'vitest/config';

/**
 * Four projects, one per kind of test; `npm test` runs them all, `npm run test:<name>` one.
 * - unit: no store, or aws-sdk-client-mock stubs (fault paths of the DynamoDB implementation)
 * - integration: services on a real dynalite, and the security checks
 * - e2e: HTTP against the local server
 * - slow: reliability (fuzz, timing, durability, faults) and infra (CDK synth, esbuild bundles)
 */
export default defineConfig({
  test: {
    exclude: ['node_modules/**', 'test/bench/**'],
    // Builds the console's generated module (console/dist/assets.ts) that the meta function imports.
    globalSetup: ['test/support/global-setup.ts'],
    // Refuses any connection or DNS lookup that would leave the machine (test/support/network-guard.ts).
    setupFiles: ['test/support/network-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The JSON report is what .ci/run reads to print its closing "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts', 'test/security/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      { extends: true, test: { name: 'slow', include: ['test/reliability/**/*.test.ts', 'test/infra/**/*.test.ts'] } },
    ],
  },
});
