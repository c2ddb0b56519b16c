// The browser agent's executor: each job runs in a fresh Web Worker with the same prelude and
// host as the headless-Chromium runtime (crates/runner/src/prelude.js and browser_host.js),
// and its report becomes the same canonical envelope the Rust side assembles (`assemble` in
// protocol.ts, the twin of the runner's `envelope_of_report`).

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

/** Runs a job; resolves to its canonical envelope text, or rejects past `wallClockMs` (a local
 * limit, never a result) or when the worker's report is unreadable (the agent gives the job
 * up). The timer stays until the promise is settled, whatever the worker sends. */
export function runJob(job: JobInput, wallClockMs = 60_000): Promise<string> {
  // web/src/worker.js, served at /worker.js under a policy that lets the job reach nothing.
  const worker = new Worker(new URL("./worker.js", import.meta.url));
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
  });
}
