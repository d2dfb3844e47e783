import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The absolute base URL the caller used (API Gateway: https + domain + non-default stage). */
export function publicBaseUrl(event: APIGatewayProxyEventV2): string {
  const headers = event.headers ?? {};
  const proto = (headers['x-forwarded-proto'] ?? 'http').split(',')[0]?.trim() || 'http';
  const host = headers.host ?? event.requestContext.domainName;
  const stage = event.requestContext.stage;
  return `${proto}://${host}${stage && stage !== '$default' ? `/${stage}` : ''}`;
}
