// The browser agent's executor: each job runs in a fresh Web Worker with the same prelude and
// host as the headless-Chromium runtime (crates/runner/src/prelude.js and browser_host.js),
// and its report becomes the same canonical envelope the Rust side assembles (`assemble` in
// protocol.ts, the twin of the runner's `envelope_of_report`).

import hostSource from "../../crates/runner/src/browser_host.js?raw";
import prelude from "../../crates/runner/src/prelude.js?raw";
import { type Report, assemble } from "./protocol";

export interface JobInput {
  code: string;
  input: string;
  options: string;
  seedHex: string;
  timestampMs: number;
  outputLimit: number;
}

// The worker: evaluates the host function, runs it once, posts its JSON report. A worker's
// network APIs live on its prototypes (deleting them from the global, as the host does in a
// page, would leave them visible), so they are removed there first.
const workerSource = `
for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "WebTransport", "importScripts"]) {
  for (let o = self; o; o = Object.getPrototypeOf(o)) {
    if (Object.prototype.hasOwnProperty.call(o, name)) delete o[name];
  }
}
// Only the host reports: the job cannot post a report of its own.
const post = postMessage.bind(self);
for (let o = self; o; o = Object.getPrototypeOf(o)) {
  if (Object.prototype.hasOwnProperty.call(o, "postMessage")) delete o.postMessage;
}
const run = (0, eval)(${JSON.stringify(`(${hostSource})`)});
onmessage = async (e) => {
  const j = e.data;
  post(await run(j.seedHex, j.timestampMs, j.prelude, j.code, j.input, j.options));
};
`;

/** Runs a job; resolves to its canonical envelope text, or rejects past `wallClockMs` (a local
 * limit, never a result). */
export function runJob(job: JobInput, wallClockMs = 60_000): Promise<string> {
  const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
  const worker = new Worker(url);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`the job ran past the wall-clock cap of ${wallClockMs} ms`));
    }, wallClockMs);
    worker.onmessage = (e) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(assemble(JSON.parse(e.data as string) as Report, job.outputLimit));
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      worker.terminate();
      reject(new Error(`the job's worker failed: ${e.message}`));
    };
    worker.postMessage({ ...job, prelude });
  }).finally(() => URL.revokeObjectURL(url));
}
