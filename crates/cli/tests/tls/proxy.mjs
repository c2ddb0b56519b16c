// A TLS-terminating reverse proxy, as operators put in front of a node: HTTPS on a free port
// of 127.0.0.1 (certificate and key from the command line), forwarding to an http:// target.
// Prints {"url": "https://localhost:PORT"} once it listens.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";

const [cert, key, target] = process.argv.slice(2);
const upstream = new URL(target);
const server = https.createServer(
  { cert: fs.readFileSync(cert), key: fs.readFileSync(key) },
  (req, res) => {
    const headers = { ...req.headers, host: upstream.host };
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(up);
  },
);
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ url: `https://localhost:${server.address().port}` }));
});
