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

// The worker: evaluates the host function, runs it once, posts its JSON report. All of it is
// inside one function, so nothing it holds is a global the job could reach: not the report
// channel (`post`, taken from the worker before the job runs, then deleted from every
// prototype), not the host. A worker's network APIs live on its prototypes (deleting them from
// the global, as the host does in a page, would leave them visible), so they are removed there
// first.
const workerSource = `(() => {
  "use strict";
  for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "WebTransport", "importScripts"]) {
    for (let o = self; o; o = Object.getPrototypeOf(o)) {
      if (Object.prototype.hasOwnProperty.call(o, name)) delete o[name];
    }
  }
  const post = postMessage.bind(self);
  for (let o = self; o; o = Object.getPrototypeOf(o)) {
    if (Object.prototype.hasOwnProperty.call(o, "postMessage")) delete o.postMessage;
  }
  const run = (0, eval)(${JSON.stringify(`(${hostSource})`)});
  let ran = false;
  self.onmessage = async (e) => {
    if (ran) return;
    ran = true;
    self.onmessage = null;
    const j = e.data;
    let report;
    try {
      report = await run(j.seedHex, j.timestampMs, j.prelude, j.code, j.input, j.options);
    } catch (error) {
      report = null;
    }
    post(typeof report === "string" ? report : "");
  };
})();
`;

/** Runs a job; resolves to its canonical envelope text, or rejects past `wallClockMs` (a local
 * limit, never a result) or when the worker's report is unreadable (the agent gives the job
 * up). The timer stays until the promise is settled, whatever the worker sends. */
export function runJob(job: JobInput, wallClockMs = 60_000): Promise<string> {
  const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
  const worker = new Worker(url);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`the job ran past the wall-clock cap of ${wallClockMs} ms`));
    }, wallClockMs);
    const settle = (outcome: () => string) => {
      clearTimeout(timer);
      worker.terminate();
      try {
        resolve(outcome());
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    worker.onmessage = (e) =>
      settle(() => {
        let report: Report;
        try {
          report = JSON.parse(String(e.data)) as Report;
        } catch {
          throw new Error("the job's worker sent an unreadable report");
        }
        return assemble(report, job.outputLimit);
      });
    worker.onerror = (e) =>
      settle(() => {
        throw new Error(`the job's worker failed: ${e.message}`);
      });
    worker.postMessage({ ...job, prelude });
  }).finally(() => URL.revokeObjectURL(url));
}
