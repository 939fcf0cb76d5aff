// An OAuth client this crate did not write: panva's oauth4webapi, as a public client that
// discovers the server from its RFC 8414 metadata and refreshes with the RFC 6749 §6 grant
// (with DPoP, RFC 9449 §5, when asked). One run, driven by the JSON of its argument:
//
//   { "issuer": "http://127.0.0.1:3000", "client_id": "pet-demo",
//     "login": { "user": "testUser", "password": "...", "dpop": true },   // or:
//     "refresh_token": "...",
//     "steps": [ { "token": "initial" | "latest" | "<literal>", "key": "own" | "other" | "none" } ],
//     "resources": [ { "method": "GET", "path": "/me" } ] }
//
// `login` signs in at the example server's `POST /sessions/` (with a DPoP proof by this
// client's key when `dpop`). Each step refreshes with the login's refresh token ("initial"),
// the newest one handed out ("latest") or a literal one, with a proof by the client's key
// ("own"), by another key ("other") or without DPoP ("none"). Nonce errors (`use_dpop_nonce`)
// are retried, as oauth4webapi's docs say, and counted. Each of `resources` is then requested
// with the login's access token (and a proof by the client's key when the login used DPoP)
// through oauth4webapi's `protectedResourceRequest`, which parses any challenge of a 401 or
// 403 itself (its scheme and parameters are reported). Prints one line of JSON.
import crypto from 'node:crypto';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';

const input = JSON.parse(process.argv[2]);
const insecure = { [oauth.allowInsecureRequests]: true };
const issuer = new URL(input.issuer);
const client = { client_id: input.client_id ?? 'pet-demo' };

const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
const as = await oauth.processDiscoveryResponse(issuer, discovery);

const newKey = () =>
  crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const own = await newKey();
const handles = {
  own: oauth.DPoP(client, own),
  other: oauth.DPoP(client, await newKey()),
  none: undefined,
};

// The login's proof, made with jose by the same key (oauth4webapi makes proofs only for the
// requests it sends itself).
async function loginProof(url, nonce) {
  const jwk = await jose.exportJWK(own.publicKey);
  const payload = { htm: 'POST', htu: url, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) };
  if (nonce) payload.nonce = nonce;
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(own.privateKey);
}

async function login({ user, password, dpop }) {
  const url = new URL('/sessions/', issuer).href;
  let nonce;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const headers = {
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    };
    if (dpop) headers.dpop = await loginProof(url, nonce);
    const res = await fetch(url, { method: 'POST', headers });
    const body = await res.json().catch(() => null);
    nonce = res.headers.get('dpop-nonce');
    if (res.status === 201 || !nonce) return { status: res.status, body, nonce_retries: attempt };
  }
  throw new Error('the login kept asking for a nonce');
}

async function refresh(token, handle) {
  let retries = 0;
  for (;;) {
    try {
      const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), token, {
        DPoP: handle,
        ...insecure,
      });
      const status = res.status;
      const cacheControl = res.headers.get('cache-control');
      const out = await oauth.processRefreshTokenResponse(as, client, res);
      return {
        ok: true,
        status,
        cache_control: cacheControl,
        token_type: out.token_type,
        expires_in: out.expires_in,
        access_token: out.access_token,
        refresh_token: out.refresh_token ?? null,
        nonce_retries: retries,
      };
    } catch (err) {
      if (handle && oauth.isDPoPNonceError(err) && retries < 2) {
        retries += 1;
        continue;
      }
      return {
        ok: false,
        kind: err.constructor.name,
        status: err.status ?? null,
        error: err.error ?? null,
        error_description: err.error_description ?? null,
        message: err.message,
        nonce_retries: retries,
      };
    }
  }
}

async function resource({ method, path }, accessToken, handle) {
  const url = new URL(path, issuer);
  let retries = 0;
  for (;;) {
    try {
      const res = await oauth.protectedResourceRequest(accessToken, method, url, new Headers(), null, {
        DPoP: handle,
        ...insecure,
      });
      return { status: res.status, nonce_retries: retries };
    } catch (err) {
      if (handle && oauth.isDPoPNonceError(err) && retries < 2) {
        retries += 1;
        continue;
      }
      return {
        status: err.status ?? null,
        kind: err.constructor.name,
        challenges: err instanceof oauth.WWWAuthenticateChallengeError ? err.cause : null,
        nonce_retries: retries,
      };
    }
  }
}

const output = { metadata: as, steps: [], resources: [] };
let initial = input.refresh_token;
if (input.login) {
  output.login = await login(input.login);
  initial = output.login.body?.refresh_token;
}
let latest = initial;
for (const step of input.steps ?? []) {
  const token = step.token === 'initial' ? initial : step.token === 'latest' ? latest : step.token;
  const result = await refresh(token, handles[step.key ?? 'none']);
  if (result.ok && result.refresh_token) latest = result.refresh_token;
  output.steps.push(result);
}
const accessToken = output.login?.body?.access_token;
const bound = output.login?.body?.token_type === 'DPoP';
for (const request of input.resources ?? []) {
  output.resources.push(await resource(request, accessToken, bound ? handles.own : undefined));
}
console.log(JSON.stringify(output));
