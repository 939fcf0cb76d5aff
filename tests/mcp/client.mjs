// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) against the `mcp_server`
// example, with tokens of node-oidc-provider (as.mjs) found through the discovery chain the SDK
// walks itself: 401 -> RFC 9728 metadata -> the issuer's metadata -> token. Prints one JSON
// object of what happened, for tests/in_process/mcp.rs to assert.
//
//   node client.mjs <mcp server base URL> <issuer URL>
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import http from 'node:http';

const [base, issuer] = process.argv.slice(2);
const endpoint = new URL(`${base}/mcp`);
const out = { exchanges: [] };

// SDK 1.32.2 asks a client-credentials token for `clientMetadata.scope` only: the scope of
// the challenge (SEP-835's first choice) goes to dynamic registration and the authorization
// request of interactive clients, not to this grant. This provider asks for the scope of the
// last challenge, as an interactive client would.
class ChallengeScoped extends ClientCredentialsProvider {
  constructor(options, learned) {
    super(options);
    this.learned = learned;
  }

  get clientMetadata() {
    return { ...super.clientMetadata, scope: this.learned.scope };
  }
}

// Every exchange the SDK makes: URL, status, challenge, and the scope of each token request.
function recording(label, learned) {
  return async (url, init = {}) => {
    const res = await fetch(url, init);
    const scope = /scope="([^"]*)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
    if (scope) learned.scope = scope;
    const body = init.body instanceof URLSearchParams ? init.body : null;
    out.exchanges.push({
      client: label,
      method: init.method ?? 'GET',
      url: String(url),
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      token_scope: body?.get('scope') ?? null,
      token_resource: body?.get('resource') ?? null,
    });
    if (process.env.DEBUG) console.error(JSON.stringify(out.exchanges.at(-1)));
    return res;
  };
}

async function connect(label, clientId) {
  const learned = {};
  const authProvider = new ChallengeScoped({
    clientId,
    clientSecret: `${clientId}-secret`,
    expectedIssuer: issuer,
  }, learned);
  const transport = new StreamableHTTPClientTransport(endpoint, {
    authProvider,
    fetch: recording(label, learned),
  });
  const client = new Client({ name: `sdk-${label}`, version: '1.0.0' });
  await client.connect(transport);
  return client;
}

const text = (result) => result.content?.map((c) => c.text).join('') ?? '';
async function attempt(fn) {
  try {
    return { ok: await fn() };
  } catch (err) {
    return { error: String(err?.message ?? err) };
  }
}

const agent = await connect('agent', 'agent');
out.tools = (await agent.listTools()).tools.map((t) => t.name).sort();
out.whoami = JSON.parse(text(await agent.callTool({ name: 'whoami', arguments: {} })));
// Needs notes:write: a 403 naming "mcp notes:write", a token with those scopes, the call again.
out.add_note = await attempt(async () => text(await agent.callTool({ name: 'add_note', arguments: { text: 'from the SDK' } })));
out.list_notes = await attempt(async () => text(await agent.callTool({ name: 'list_notes', arguments: {} })));
// The step-up: this client's tokens carry no acr; the SDK asks again, and is refused again.
out.purge_short = await attempt(async () => text(await agent.callTool({ name: 'purge_notes', arguments: {} })));
await agent.close();

const mfa = await connect('mfa', 'agent-mfa');
out.purge_mfa = await attempt(async () => text(await mfa.callTool({ name: 'purge_notes', arguments: {} })));
await mfa.close();

// Refusals with tokens of this issuer, sent by hand.
async function token(scope, resource) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('agent:agent-secret').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  return (await res.json()).access_token;
}
async function post(tokenValue, headers, body) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tokenValue}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
}
// An answer that comes before the body is sent (a 413 from the length alone): asked with
// `Expect: 100-continue`, so that the body goes only if the server reads it, and an early
// answer is not lost to a reset of the upload.
function postEarly(tokenValue, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokenValue}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
        ...headers,
      },
    }, (res) => {
      res.resume();
      resolve({ status: res.statusCode, challenge: res.headers['www-authenticate'] ?? null });
      req.destroy();
    });
    req.on('continue', () => req.end(body));
    req.on('error', (err) => { if (err.code !== 'ECONNRESET') reject(err); });
    req.flushHeaders();
  });
}
const call = (name, args = {}) => JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args },
});
const modern = (name) => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name });
const reader = await token('mcp notes:read', endpoint.href);
out.lying_headers = await post(reader, modern('whoami'), call('add_note', { text: 'smuggled' }));
out.oversized = await postEarly(await token('mcp notes:write', endpoint.href), modern('add_note'), call('add_note', { text: 'x'.repeat(5 * 1024 * 1024) }));
out.other_audience = await post(await token('mcp', 'http://127.0.0.1:1/mcp'), modern('whoami'), call('whoami'));

console.log(JSON.stringify(out));
