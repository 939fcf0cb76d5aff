// A small local proxy for the MCP conformance runner, which sends no token: every request to
// it goes to the target with `Authorization: Bearer <token>` put in, the answer streamed back.
//
//   node proxy.mjs <target origin> <token>   prints {"url": "http://127.0.0.1:N"} on stdout
import http from 'node:http';

const [target, token] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const url = new URL(req.url, target);
  const headers = { ...req.headers, host: url.host, authorization: `Bearer ${token}` };
  const upstream = http.request(url, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
