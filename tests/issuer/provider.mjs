// node-oidc-provider (panva), an authorization server we did not write, issuing opaque
// access tokens and answering RFC 7662 introspection and RFC 7009 revocation, for the
// introspection tests of tower-jwt-sessions.
//
//   node provider.mjs [port]     prints {"issuer": "..."} on its first line
//
// Clients (all client_secret_basic unless said):
//   rs / rs-secret              the resource server's introspection client
//   rs-jwt                      the same with private_key_jwt (tests/keys/ec_private.pem, ES256)
//   app / app-secret            client_credentials, scopes read write, opaque tokens
//   short / short-secret        the same, tokens live 2 seconds
//   jwt-app / jwt-app-secret    the same, RFC 9068 JWT access tokens (RS256)
// Tokens are for the resource `RESOURCE` (default http://api.test/) unless the token request
// names another `resource`. DPoP-bound tokens: send a DPoP proof with the token request.
//
//   GET /test/stats  -> {"introspections": n}  calls to the introspection endpoint so far

import http from 'node:http';
import fs from 'node:fs';
import { createPublicKey } from 'node:crypto';
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';

const port = Number(process.argv[2] || 0);
const RESOURCE = process.env.RESOURCE || 'http://api.test/';

const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signing = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'provider-rs256' };

const pem = fs.readFileSync(new URL('../keys/ec_private.pem', import.meta.url));
const ecPublic = createPublicKey(pem).export({ format: 'jwk' });
const rsJwtKey = { ...ecPublic, alg: 'ES256', use: 'sig' };
rsJwtKey.kid = await calculateJwkThumbprint(rsJwtKey);

const machine = (client_id, client_secret) => ({
  client_id,
  client_secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'read write',
});

const provider = new Provider(issuer, {
  clients: [
    { client_id: 'rs', client_secret: 'rs-secret', grant_types: [], response_types: [], redirect_uris: [] },
    {
      client_id: 'rs-jwt',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [rsJwtKey] },
    },
    machine('app', 'app-secret'),
    machine('short', 'short-secret'),
    machine('jwt-app', 'jwt-app-secret'),
  ],
  jwks: { keys: [signing] },
  scopes: ['read', 'write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator, client) => ({
        scope: 'read write',
        audience: resourceIndicator,
        accessTokenTTL: client.clientId === 'short' ? 2 : 600,
        accessTokenFormat: client.clientId === 'jwt-app' ? 'jwt' : 'opaque',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

let introspections = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/test/stats') {
    ctx.body = { introspections };
    return;
  }
  if (ctx.path === '/token/introspection') introspections += 1;
  await next();
});

server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
