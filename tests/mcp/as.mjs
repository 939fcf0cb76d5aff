// An OAuth 2.0 authorization server for the MCP tests: node-oidc-provider (panva), which we did
// not write, issuing RFC 9068 JWT access tokens (ES256, `typ` at+jwt) by the client-credentials
// grant, for the resource the client names (RFC 8707), discovered through OpenID Connect.
//
//   node as.mjs [port]     prints {"issuer": "http://127.0.0.1:N"} on stdout
//
// Clients (client_secret_basic): `agent` / `agent-secret`, and `agent-mfa` / `agent-mfa-secret`
// whose tokens also carry `acr` `urn:example:mfa` and `auth_time` (now). A client-credentials
// token has no user and so no authentication of one: node-oidc-provider puts neither claim in
// it, so `extraTokenClaims` mints them for `agent-mfa`, standing for a user who has just passed
// a multi-factor login (what a step-up would bring).
import http from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 0);
const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'es256-1' };
const SCOPES = 'mcp notes:read notes:write';
const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'ES256',
  scope: SCOPES,
});

const provider = new Provider(issuer, {
  clients: [client('agent'), client('agent-mfa')],
  scopes: ['openid', ...SCOPES.split(' ')],
  jwks: { keys: [jwk] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        scope: SCOPES,
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  extraTokenClaims: (_ctx, token) => (token.clientId === 'agent-mfa'
    ? { acr: 'urn:example:mfa', auth_time: Math.floor(Date.now() / 1000) }
    : undefined),
});
// Plain http on loopback: the tests' issuer is not behind TLS.
provider.proxy = false;
server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
