import { Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { DomainName, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, SecurityPolicy } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type RouteGroup, methodsOf, routeList } from '#shared/http/routes';

/** Properties of VaultApi. */
export interface VaultApiProps {
  /** The function serving each route group (shared/http/routes.ts); `meta` also gets `$default`. */
  readonly handlers: Readonly<Record<RouteGroup, IFunction>>;
  /** Default-route throttling of the stage (requests per second, burst). */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Retention of the access log group. */
  readonly logRetention: RetentionDays;
  /** Serve on this domain (ACM certificate in the stack's region) instead of execute-api. */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
}

/**
 * One access log line per request, JSON. Identifiers, route, status, timings and the caller's IP
 * only: never a body, a query string or a header other than the user agent, since callers may
 * put API keys in `Authorization`, `X-Api-Key` or the body.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
  userAgent: '$context.identity.userAgent',
} as const;

/**
 * The HTTP API (payload format 2.0): one route per entry of the route table, each to its
 * group's function, and `$default` to `meta` for JSON 404/405 answers. Served on the `$default`
 * stage so that paths are exactly the documented ones (`POST /run_agent`, not `/prod/run_agent`),
 * with default-route throttling and JSON access logs.
 */
export class VaultApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly domain?: DomainName;
  /** The base URL clients call. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: VaultApiProps) {
    super(scope, id);

    const integrations = new Map<RouteGroup, HttpLambdaIntegration>();
    const integrationFor = (group: RouteGroup) => {
      let integration = integrations.get(group);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${group}Integration`, props.handlers[group]);
        integrations.set(group, integration);
      }
      return integration;
    };

    this.api = new HttpApi(this, 'HttpApi', {
      description: 'agent-vault: credential vault for AI-agent platforms',
      createDefaultStage: false,
      defaultIntegration: integrationFor('meta'),
      // With a custom domain, the execute-api URL would be a second way in that skips it.
      disableExecuteApiEndpoint: Boolean(props.customDomain),
    });
    for (const route of routeList) {
      // HEAD wherever GET: answered by the GET route's function (shared/http/routes.ts).
      this.api.addRoutes({ path: route.path, methods: methodsOf(route).map((m) => HttpMethod[m]), integration: integrationFor(route.group) });
    }

    if (props.customDomain) {
      this.domain = new DomainName(this, 'Domain', {
        domainName: props.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
        securityPolicy: SecurityPolicy.TLS_1_2,
      });
    }

    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
      ...(this.domain ? { domainMapping: { domainName: this.domain } } : {}),
    });

    this.url = props.customDomain ? `https://${props.customDomain.domainName}/` : this.stage.url;

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every route authenticates inside its function with a tenant API key (SHA-256 lookup, identical answers for unknown and wrong keys). An API Gateway authorizer cannot do it: the compatible endpoints also accept the key as the body field api_key. GET /healthz and GET /openapi.json are public by design.',
    });
  }
}
