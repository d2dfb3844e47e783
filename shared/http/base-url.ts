import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The absolute base URL the caller used (API Gateway: https + domain + non-default stage). */
export function publicBaseUrl(event: APIGatewayProxyEventV2): string {
  const headers = event.headers ?? {};
  const proto = (headers['x-forwarded-proto'] ?? 'http').split(',')[0]?.trim() || 'http';
  const host = headers.host ?? event.requestContext.domainName;
  const stage = event.requestContext.stage;
  return `${proto}://${host}${stage && stage !== '$default' ? `/${stage}` : ''}`;
}

/** The vault's public base URL: VAULT_PUBLIC_URL when set, else the one the caller used (connect links, the OAuth callback). */
export function vaultBaseUrl(config: { readonly publicUrl?: string }, event: APIGatewayProxyEventV2): string {
  return config.publicUrl ?? publicBaseUrl(event);
}
