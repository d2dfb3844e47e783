import { writeFileSync } from 'node:fs';
import { buildOpenApi } from '#shared/schemas/openapi';

/**
 * Writes the OpenAPI document (what `GET /openapi.json` serves) without starting a vault, for
 * client generators and linters (docs/api.md, "Using the document"):
 *
 *   npx tsx infra/local/openapi.ts openapi.json [server-url]     (no file: to stdout)
 */
const [file, serverUrl] = process.argv.slice(2);
const text = `${JSON.stringify(buildOpenApi(serverUrl), null, 2)}\n`;
if (file) writeFileSync(file, text);
else process.stdout.write(text);
