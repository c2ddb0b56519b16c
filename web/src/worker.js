// The job's Web Worker (built to web/dist/worker.js, served at /worker.js with a policy of its
// own: `default-src 'none'; script-src 'unsafe-eval'`, so the job can evaluate code and reach
// nothing: no fetch, no import(), no nested worker, whatever it finds on the global).
//
// It evaluates the host function (crates/runner/src/browser_host.js), runs it once and posts
// its JSON report. Nothing the worker holds is a global the job can reach: the report channel
// (`post`) is taken before the job runs and deleted from every prototype; the promise `then`
// used to wait for the host is the one taken now, so a job that patches `Promise.prototype`
// cannot intercept the report. A worker's network APIs live on its prototypes, so they are
// removed there too (the policy would refuse them anyway).
import hostSource from "../../crates/runner/src/browser_host.js?raw";

const scope = self;
const hasOwn = Object.prototype.hasOwnProperty;
const protoOf = Object.getPrototypeOf;
const remove = (name) => {
  for (let o = scope; o; o = protoOf(o)) {
    if (hasOwn.call(o, name)) delete o[name];
  }
};
for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "WebTransport", "importScripts", "Worker", "SharedWorker"]) {
  remove(name);
}
const post = scope.postMessage.bind(scope);
remove("postMessage");
const then = Promise.prototype.then;
const run = (0, eval)(`(${hostSource})`);
let ran = false;
scope.onmessage = (e) => {
  if (ran) return;
  ran = true;
  scope.onmessage = null;
  const j = e.data;
  let pending;
  try {
    pending = run(j.seedHex, j.timestampMs, j.prelude, j.code, j.input, j.options);
  } catch {
    post("");
    return;
  }
  then.call(
    pending,
    (report) => post(typeof report === "string" ? report : ""),
    () => post(""),
  );
};
