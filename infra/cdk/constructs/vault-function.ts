import { AssetHashType, DockerImage, Duration, type ILocalBundling, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, type FunctionProps, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { bundleFunctionSync, type FunctionBundleSettings } from '../bundling.ts';
import { REPO_ROOT } from '../paths.ts';
import { PROFILE_NAME_INDEX } from '#shared/keys';

export { ESM_REQUIRE_SHIM } from '../bundling.ts';

/** How a function may use the table: read only, or read and write. */
export type TableAccess = 'RO' | 'RW';

/**
 * The DynamoDB actions the repositories use (shared/repositories): no Scan, no transactions, no
 * streams, no table management. Listed one by one: a wildcard would also allow DeleteTable.
 */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'] as const;
export const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'] as const;

/**
 * Partition keys no function may write but the API-keys one (POST|DELETE /v1/api-keys): API-key
 * items (`APIKEY#<sha256>`, shared/keys.ts). Keys are otherwise minted by the admin CLI with
 * operator credentials, so a function whose code or role is abused (agents, profiles, runs, the
 * run worker) still cannot plant a key for a tenant of its choosing — and a planted item without
 * the server key's MAC is refused anyway (shared/integrity.ts).
 */
export const PROTECTED_LEADING_KEYS = ['APIKEY#*'] as const;

/**
 * What DynamoDB needs from the caller on a table encrypted with a customer-managed key (the same
 * set CDK's own table grants use, with `ReEncrypt*` / `GenerateDataKey*` spelled out), allowed
 * only through DynamoDB (`kms:ViaService`): the functions cannot use the key directly.
 */
const TABLE_KEY_READ_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey'] as const;
const TABLE_KEY_WRITE_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'] as const;

/**
 * Bundles a handler with esbuild in this process (infra/cdk/bundling.ts): the asset's local
 * bundling, so no Docker is involved. Its fields are part of the asset's cache key (CDK hashes
 * the bundling options as JSON), so two functions never share a bundle by mistake.
 */
export class EsbuildLocalBundling implements ILocalBundling {
  constructor(
    readonly entry: string,
    readonly settings: FunctionBundleSettings,
  ) {}

  tryBundle(outputDir: string): boolean {
    bundleFunctionSync(this.entry, outputDir, this.settings);
    return true;
  }
}

/** Properties of a VaultFunction. Runtime, architecture, bundling, role and logging are fixed. */
export interface VaultFunctionProps
  extends Pick<FunctionProps, 'timeout' | 'memorySize' | 'onFailure' | 'retryAttempts' | 'maxEventAge' | 'reservedConcurrentExecutions'> {
  /** Absolute path of the handler file (exports `handler`). */
  readonly entry: string;
  /** What the function does; shown in the console and in the role's description. */
  readonly description: string;
  /** Retention of the function's own log group. */
  readonly logRetention: RetentionDays;
  /**
   * Extra environment; `VAULT_MODE=aws` and `NODE_OPTIONS=--enable-source-maps` are always set.
   * `VAULT_TRACING=true` (the `tracing` deploy setting) also turns on X-Ray active tracing and
   * bundles Powertools' Tracer, which is otherwise left out of the bundle.
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The house Lambda function: Node.js 22 on arm64, a minified ESM bundle with the AWS SDK inside
 * (no dependency on the runtime's SDK version) and source maps, split so that a cold start loads
 * only `index.mjs` and its static imports (infra/cdk/bundling.ts), an explicit log group with a
 * retention, and its own role that starts with nothing but writing to that log group. Access to
 * anything else is granted with `bindTable`, `bindServerKey` or explicit statements.
 *
 * A plain Function with a locally bundled asset rather than NodejsFunction: NodejsFunction
 * bundles to one `--outfile`, and esbuild's code splitting needs an output directory.
 */
export class VaultFunction extends LambdaFunction {
  /** The execution role (no managed policies; every permission is an explicit statement). */
  readonly executionRole: Role;
  /** The log group the function writes to. */
  readonly functionLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: VaultFunctionProps) {
    // Created beside the function (not inside it) because they must exist before super().
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: props.logRetention });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `agent-vault ${id}: ${props.description}`.slice(0, 1000),
    });
    // Instead of the AWSLambdaBasicExecutionRole managed policy (logs:* on every log group):
    // the log group exists already, so only its streams and events are needed.
    role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );

    const tracing = props.environment?.VAULT_TRACING === 'true';
    super(scope, id, {
      // As NodejsFunction does: the project root as the asset's source (never copied: bundling
      // writes the output), hashed by its output, so an unchanged bundle is not uploaded again.
      code: Code.fromAsset(REPO_ROOT, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Never pulled: local bundling always succeeds (it throws on a build error instead).
          image: DockerImage.fromRegistry('dummy'),
          local: new EsbuildLocalBundling(props.entry, { tracing }),
        },
      }),
      // The bundle's ENTRY_FILE, index.mjs.
      handler: 'index.handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role,
      logGroup,
      onFailure: props.onFailure,
      retryAttempts: props.retryAttempts,
      maxEventAge: props.maxEventAge,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        VAULT_MODE: 'aws',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'agent-vault',
        POWERTOOLS_METRICS_NAMESPACE: 'AgentVault',
        ...props.environment,
      },
      ...(tracing ? { tracing: Tracing.ACTIVE } : {}),
    });
    this.executionRole = role;
    this.functionLogGroup = logGroup;

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is deliberate: it is the runtime the vault is built and tested for (docs/architecture.md, "Stack"; the CI machines run Node 20/22) and is supported by Lambda until 2027. Moving to nodejs24.x is a tested change, not a default.',
    });
  }

  /**
   * Grants the function the table actions the repositories need (read, or read and write) and,
   * when the table has a customer-managed key, the matching key use through DynamoDB only; with
   * write access, an explicit deny on writes to API-key items (PROTECTED_LEADING_KEYS), which no
   * later Allow can lift — unless `apiKeyWrites` (the API-keys function only). Sets `VAULT_TABLE_NAME`.
   */
  bindTable(table: ITable, access: TableAccess, options: { readonly apiKeyWrites?: boolean } = {}): void {
    this.executionRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: access === 'RO' ? [...TABLE_READ_ACTIONS] : [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        resources: [table.tableArn],
      }),
    );
    // The name index (GET /v1/auth-profiles) is its own resource: Query only, that index only.
    this.executionRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${table.tableArn}/index/${PROFILE_NAME_INDEX}`] }),
    );
    if (access === 'RW' && !options.apiKeyWrites) {
      this.executionRole.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'NoApiKeyWrites',
          effect: Effect.DENY,
          actions: [...TABLE_WRITE_ACTIONS],
          resources: [table.tableArn],
          // ForAnyValue: a BatchWriteItem is refused if any one of its items is an API key.
          conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [...PROTECTED_LEADING_KEYS] } },
        }),
      );
    }
    if (table.encryptionKey) {
      this.executionRole.addToPrincipalPolicy(
        new PolicyStatement({
          actions: access === 'RO' ? [...TABLE_KEY_READ_ACTIONS] : [...TABLE_KEY_READ_ACTIONS, ...TABLE_KEY_WRITE_ACTIONS],
          resources: [table.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.${Stack.of(this).urlSuffix}` } },
        }),
      );
    }
    this.addEnvironment('VAULT_TABLE_NAME', table.tableName);
  }

  /**
   * Grants read access to the server key ring secret (and decryption of it through Secrets
   * Manager only) and sets `VAULT_SERVER_KEY_SECRET_ID`.
   */
  bindServerKey(secret: ISecret): void {
    secret.grantRead(this);
    this.addEnvironment('VAULT_SERVER_KEY_SECRET_ID', secret.secretArn);
  }
}
