// An OAuth 2.0 issuer of RFC 9068 access tokens for the resource-server tests, built on
// panva/jose (not on this crate's minting): keys, JWKS, RFC 8414 and OpenID Connect discovery
// documents and tokens all come from an implementation we did not write.
//
//   node issuer.mjs [port]     prints {"port": N, "issuer": "http://127.0.0.1:N"} on stdout
//
// Control endpoints (the test drives them):
//   POST /mint    {"alg", "typ", "claims": {...}, "omit": ["jti", ...]} -> the token as text
//   POST /rotate  {"alg"}         a new key for alg; the old one leaves the JWKS document
//   POST /config  {"discovery": "rfc8414" | "oidc", "wrong_issuer": bool}
//   GET  /stats   {"metadata": n, "jwks": n}: documents fetched so far
//   GET  /clients {"a": jkt, ...}: the DPoP client keys' RFC 7638 thumbprints
//   POST /proof   {"client", "htm", "htu", "token", "nonce", "iat", "jti", "typ", "alg",
//                  "sign_with", "private_jwk", "omit"} -> a DPoP proof (RFC 9449) as text
import http from 'node:http';
import crypto from 'node:crypto';
import * as jose from 'jose';

// `Ed25519` is RFC 9864's fully-specified name, which newer issuers and DPoP clients write.
const ALGS = ['RS256', 'ES256', 'EdDSA', 'Ed25519'];
const keys = {};
async function newKey(alg) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  jwk.kid = await jose.calculateJwkThumbprint(jwk);
  jwk.alg = alg;
  jwk.use = 'sig';
  keys[alg] = { privateKey, jwk };
}
for (const alg of ALGS) await newKey(alg);

// DPoP clients: each holds a key pair and proves possession of it.
const clients = {};
for (const [name, alg] of [
  ['a', 'ES256'], ['b', 'ES256'], ['rsa', 'RS256'], ['ed', 'EdDSA'], ['ed25519', 'Ed25519'],
]) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  clients[name] = {
    alg,
    privateKey,
    jwk,
    privateJwk: await jose.exportJWK(privateKey),
    jkt: await jose.calculateJwkThumbprint(jwk),
  };
}

async function proof({
  client = 'a', htm = 'GET', htu, token, nonce, iat, jti, typ = 'dpop+jwt', alg,
  sign_with, private_jwk = false, omit = [],
}) {
  const holder = clients[client];
  const payload = {
    jti: jti ?? crypto.randomUUID(),
    htm,
    htu,
    iat: iat ?? Math.floor(Date.now() / 1000),
  };
  if (token) payload.ath = crypto.createHash('sha256').update(token).digest('base64url');
  if (nonce) payload.nonce = nonce;
  for (const name of omit) delete payload[name];
  const header = { alg: alg ?? holder.alg, typ, jwk: private_jwk ? holder.privateJwk : holder.jwk };
  const signer = clients[sign_with ?? client];
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(signer.privateKey);
}

const config = { discovery: 'rfc8414', wrong_issuer: false };
const stats = { metadata: 0, jwks: 0 };
let issuer = '';

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

function metadata() {
  stats.metadata += 1;
  return {
    issuer: config.wrong_issuer ? 'https://attacker.example' : issuer,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
  };
}

async function mint({ alg = 'ES256', typ = 'at+jwt', claims = {}, omit = [] }) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer,
    sub: 'user-1',
    aud: 'http://resource.test',
    client_id: 'client-1',
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 300,
    scope: 'read',
    ...claims,
  };
  for (const name of omit) delete payload[name];
  const header = { alg, kid: keys[alg].jwk.kid };
  if (typ !== null) header.typ = typ;
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(keys[alg].privateKey);
}

const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, issuer).pathname;
    if (req.method === 'GET' && path === '/.well-known/oauth-authorization-server') {
      return config.discovery === 'rfc8414' ? send(res, 200, metadata()) : send(res, 404, {});
    }
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return send(res, 200, metadata());
    }
    if (req.method === 'GET' && path === '/jwks') {
      stats.jwks += 1;
      return send(res, 200, { keys: ALGS.map((alg) => keys[alg].jwk) });
    }
    if (req.method === 'GET' && path === '/stats') return send(res, 200, stats);
    if (req.method === 'GET' && path === '/clients') {
      return send(res, 200, Object.fromEntries(Object.entries(clients).map(([n, c]) => [n, c.jkt])));
    }
    if (req.method === 'POST' && path === '/proof') {
      return send(res, 200, await proof(await readJson(req)), 'text/plain');
    }
    if (req.method === 'POST' && path === '/mint') {
      return send(res, 200, await mint(await readJson(req)), 'text/plain');
    }
    if (req.method === 'POST' && path === '/rotate') {
      await newKey((await readJson(req)).alg);
      return send(res, 200, {});
    }
    if (req.method === 'POST' && path === '/config') {
      Object.assign(config, await readJson(req));
      return send(res, 200, config);
    }
    send(res, 404, {});
  } catch (err) {
    send(res, 500, { error: String(err) });
  }
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  console.log(JSON.stringify({ port, issuer }));
});
