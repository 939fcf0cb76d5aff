// A single-page app on http://127.0.0.1:APP_PORT calling the example server on
// http://127.0.0.1:API_PORT (ALLOWED_ORIGINS=the app, REFRESH_COOKIE=1), in a real headless
// Chromium: CORS preflights answered, refusals readable, the refresh cookie used beside an
// access token, and no sign-in dialog for a failed login made by a script. Run by
// scripts/browser.sh, which starts the server; every check failing exits non-zero.
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const api = process.env.API_URL;
const appPort = Number(process.env.APP_PORT);
const appOrigin = `http://127.0.0.1:${appPort}`;
if (!api || !appPort) throw new Error("API_URL and APP_PORT are required");

// The app's page: nothing but an origin to run scripts from.
const page_server = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html" });
  res.end("<!doctype html><title>app</title><form id=f method=post></form>");
});
await new Promise((ok) => page_server.listen(appPort, "127.0.0.1", ok));

const profile = mkdtempSync(join(tmpdir(), "tjs-chromium-"));
// A fresh profile each run, so no cookie or cached credential of an earlier run counts.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok ? "" : `: ${JSON.stringify(detail)}`}`);
  if (!ok) failures += 1;
}

try {
  const page = context.pages()[0] ?? (await context.newPage());
  // Every time the browser would ask the user for credentials (its own sign-in dialog),
  // DevTools reports `Fetch.authRequired`; the test counts them and cancels each.
  const cdp = await context.newCDPSession(page);
  const prompts = [];
  cdp.on("Fetch.requestPaused", (e) => cdp.send("Fetch.continueRequest", { requestId: e.requestId }).catch(() => {}));
  cdp.on("Fetch.authRequired", (e) => {
    prompts.push(`${e.authChallenge.scheme} ${e.request.url}`);
    cdp
      .send("Fetch.continueWithAuth", { requestId: e.requestId, authChallengeResponse: { response: "CancelAuth" } })
      .catch(() => {});
  });
  await cdp.send("Fetch.enable", { handleAuthRequests: true, patterns: [{ urlPattern: `${api}/*` }] });
  await page.goto(appOrigin);

  // Each call runs in the page, as the app's own `fetch`; a CORS failure is a TypeError.
  const call = (path, init) =>
    page.evaluate(
      async ([url, init]) => {
        try {
          const res = await fetch(url, { credentials: "include", ...init });
          const text = await res.text();
          let body = null;
          try { body = JSON.parse(text); } catch {}
          return { status: res.status, body, challenge: res.headers.get("www-authenticate") };
        } catch (err) {
          return { error: String(err) };
        }
      },
      [`${api}${path}`, init ?? {}],
    );
  const basic = (user, password) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

  // Item 12: a failed login from a script settles as a readable 401, with no dialog.
  let res = await call("/sessions/", { method: "POST", headers: basic("testUser", "wrong") });
  check("failed login by script: readable 401 with the JSON error", res.status === 401 && typeof res.body?.error === "string", res);
  check("failed login by script: challenged as xBasic", res.challenge?.startsWith("xBasic "), res);
  check("failed login by script: no sign-in dialog", prompts.length === 0, prompts);

  // Item 11: the login (preflighted: it sends Authorization) works cross-origin.
  res = await call("/sessions/", { method: "POST", headers: basic("testUser", "testPassword") });
  check("login from another origin: 201", res.status === 201 && typeof res.body?.access_token === "string", res);
  const access = res.body?.access_token;
  const sessionId = res.body?.session_id;
  check("login in cookie mode: no refresh_token in the body", res.body && !("refresh_token" in res.body), res);

  res = await call("/me", { headers: { authorization: `Bearer ${access}` } });
  check("GET /me with the token: 200", res.status === 200 && res.body?.user?.name === "testUser", res);
  res = await call("/me");
  check("GET /me without a token: the page reads the 401 and its challenge", res.status === 401 && res.challenge?.startsWith("Bearer"), res);

  // A refresh by cookie (a simple request, no preflight): readable, cookie rotated.
  res = await call("/sessions/refresh/", { method: "POST" });
  check("refresh by cookie: readable 200", res.status === 200 && typeof res.body?.access_token === "string", res);
  // Item 13: an HTTP client that sends the access token with every call, this one too.
  res = await call("/sessions/refresh/", { method: "POST", headers: { authorization: `Bearer ${access}` } });
  check("refresh with the access token attached: the cookie is used", res.status === 200 && typeof res.body?.access_token === "string", res);

  // Signing out clears the cookie; the next refresh is a readable 401 ("signed out").
  res = await call(`/sessions/${sessionId}`, { method: "DELETE", headers: { authorization: `Bearer ${access}` } });
  check("sign out: 204", res.status === 204, res);
  res = await call("/sessions/refresh/", { method: "POST" });
  check("refresh after signing out: a readable 401", res.status === 401, res);

  // The control: a navigation (a plain form) to the login does get the Basic challenge the
  // browser acts on, so the count above could see one.
  await page.evaluate((url) => {
    const form = document.getElementById("f");
    form.action = url;
    form.submit();
  }, `${api}/sessions/`);
  await page.waitForLoadState("load").catch(() => {});
  for (let i = 0; i < 50 && prompts.length === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
  check("a navigation to the login is still challenged as Basic", prompts.some((p) => p.startsWith("basic") || p.startsWith("Basic")), prompts);
} finally {
  await context.close();
  page_server.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} browser check(s) failed`);
  process.exit(1);
}
console.log("browser checks passed");
