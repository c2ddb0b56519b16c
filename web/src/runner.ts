// The browser agent's executor: each job runs in a fresh Web Worker with the same prelude and
// host as the headless-Chromium runtime (crates/runner/src/prelude.js and browser_host.js),
// and its report becomes the same canonical envelope the Rust side assembles
// (crates/runner/src/quickjs.rs, `assemble`).

import hostSource from "../../crates/runner/src/browser_host.js?raw";
import prelude from "../../crates/runner/src/prelude.js?raw";
import { canonical } from "./store";

export interface JobInput {
  code: string;
  input: string;
  options: string;
  seedHex: string;
  timestampMs: number;
  outputLimit: number;
}

interface Report {
  outcome: { ok?: string; kind?: string; json?: string } | null;
  logs: { level: string; message: string }[];
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
      resolve(assemble(JSON.parse(e.data as string), job.outputLimit));
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      worker.terminate();
      reject(new Error(`the job's worker failed: ${e.message}`));
    };
    worker.postMessage({ ...job, prelude });
  }).finally(() => URL.revokeObjectURL(url));
}

const utf8 = (s: string) => new TextEncoder().encode(s).length;

function failure(kind: string, message: string, stack: string, logs: Report["logs"]) {
  return { error: { kind, message, stack }, logs, ok: false };
}

/** The envelope from a report, with the output limit enforced, exactly as the Rust runner. */
function assemble(report: Report, outputLimit: number): string {
  const logs: Report["logs"] = [];
  let logBytes = 0;
  let overflowed = false;
  for (const { level, message } of report.logs) {
    logBytes += utf8(level) + utf8(message) + 32;
    if (logBytes > outputLimit) overflowed = true;
    else logs.push({ level, message });
  }
  let envelope: unknown;
  const o = report.outcome;
  if (!o) {
    envelope = failure("no-result", "the job finished without calling back", "", logs);
  } else if (o.ok !== undefined) {
    try {
      const v = JSON.parse(o.ok);
      envelope = { details: v.details, logs, ok: true, result: v.result };
    } catch (e) {
      envelope = failure("threw", `the result is not JSON: ${e}`, "", logs);
    }
  } else {
    const kind = ["no-entrypoint", "no-result", "bad-input", "syntax"].includes(o.kind ?? "") ? o.kind! : "threw";
    try {
      const info = JSON.parse(o.json ?? "");
      // Rust's str::lines: no final empty line, "\r\n" ends a line too.
      const lines = String(info.stack).split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      const stack = lines
        .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l))
        .filter((l) => !l.includes("(prelude.js:"))
        .map((l) => `${l}\n`)
        .join("");
      envelope = failure(kind, String(info.message), stack, logs);
    } catch (e) {
      envelope = failure(kind, `unreadable error report: ${e}`, "", logs);
    }
  }
  const text = canonical(envelope);
  if (overflowed || utf8(text) > outputLimit) {
    const what = overflowed ? "its logs" : `its envelope (${utf8(text)} bytes)`;
    return canonical(failure("output-too-large", `${what} exceeded the output limit of ${outputLimit} bytes`, "", []));
  }
  return text;
}
