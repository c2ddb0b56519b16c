// The market's rules on the TypeScript side, one home each: the contract's codes and bounds, the
// terms shape, ids and commitments (docs/protocol.md §1, §5), event topics from the ABI, RFC 8785
// JSON, and the envelope a job's report becomes (the runner's `envelope_of_report`). The Rust
// side's twins are `agency_chain::protocol` and `agency_runner`; web/tests/protocol.test.mjs
// checks this file against the same sources and vectors they are checked against.

import { type Abi, type AbiEvent, type AbiFunction, type Address, type Hex, concat, encodeAbiParameters, getAbiItem, keccak256, toEventSelector } from "viem";
import { abi } from "../../contracts/artifacts/JobAgency.json";

export const agencyAbi = abi as Abi;

/** Job status codes (`IJobAgency.Status`); `jobOf` reverts for 0. */
export const Status = { None: 0, Open: 1, Revealing: 2, Accepted: 3, NoConsensus: 4, Expired: 5, Cancelled: 6 } as const;
/** Status names by code, as the CLI and JSON spell them. */
export const STATUS = ["none", "open", "revealing", "accepted", "no-consensus", "expired", "cancelled"] as const;
/** Whether a job with this status is over: nothing more can happen to it. */
export const isTerminal = (status: number): boolean => status >= Status.Accepted;

/** Slot phase codes (`IJobAgency.Phase`). */
export const Phase = { Empty: 0, Claimed: 1, Committed: 2, Revealed: 3 } as const;
/** Phase names by code. */
export const PHASE = ["empty", "claimed", "committed", "revealed"] as const;

/** Slash reasons by code (`SLASH_*` in JobAgency.sol), for people. */
export const SLASH_REASONS = ["evicted", "undelivered at the deadline", "did not reveal", "wrong result"] as const;
export const slashReason = (code: number): string => SLASH_REASONS[code] ?? "?";

/** The contract's bounds (`MAX_REPLICAS`, `MIN_WINDOW`, `MAX_DURATION`, seconds). */
export const MAX_REPLICAS = 15;
export const MIN_WINDOW = 60;
export const MAX_DURATION = 90 * 86_400;

/** The quorum of `replicas` when the requester names none: the smallest strict majority. */
export const defaultQuorum = (replicas: number): number => Math.floor(replicas / 2) + 1;

/** Whether an agent with `score` may claim a job asking for `minReputation` (`claim`): anyone
 * when it is 0, else a score that reaches it. */
export const meetsReputation = (minReputation: number, score: number): boolean =>
  minReputation === 0 || score >= minReputation;

/** A reputation score, as `minReputation` is compared with it. */
export const score = (a: { accepted: bigint; rejected: bigint; missed: bigint }): number =>
  Number(a.accepted) - Number(a.rejected) - Number(a.missed);

/** A batch's terms (`IJobAgency.Terms`; the field names and order are the ABI's). */
export interface Terms {
  requester: Address;
  salt: bigint;
  count: number;
  specs: Hex;
  reward: bigint;
  collateral: bigint;
  replicas: number;
  quorum: number;
  minReputation: number;
  deliveryWindow: number;
  revealWindow: number;
  deadline: number;
}

/** A job's deterministic limits, as specs carry them (the defaults come from `/api/config`). */
export interface Limits {
  fuel: number;
  memory: number;
  stack: number;
  output: number;
}

/** `keccak256(abi.encodePacked(digests))`: the `specs` field of terms for these spec digests. */
export function specsHash(digests: Hex[]): Hex {
  return keccak256(concat(digests));
}

const termsParam = (getAbiItem({ abi: agencyAbi, name: "post" }) as AbiFunction).inputs[0];

/** The id of the batch `terms` posts: keccak256 of its ABI encoding, low 32 bits cleared. */
export function batchId(terms: Terms): Hex {
  const hash = keccak256(encodeAbiParameters([termsParam] as never, [terms] as never));
  return (hash.slice(0, 58) + "00000000") as Hex;
}

/** The id of job `index` of the batch `terms` posts. */
export function jobId(terms: Terms, index: number): Hex {
  return (batchId(terms).slice(0, 58) + index.toString(16).padStart(8, "0")) as Hex;
}

/** A job id's batch id and index. */
export function splitJobId(id: Hex): { batch: Hex; index: number } {
  return { batch: (id.slice(0, 58) + "00000000") as Hex, index: parseInt(id.slice(58), 16) };
}

/** The commitment an agent stores for `result` (§5): binds chain, contract, job and agent. */
export function commitment(chainId: bigint, agency: Address, job: Hex, agent: Address, result: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "address" }, { type: "bytes32" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }],
      [chainId, agency, job, agent, result, salt],
    ),
  );
}

/** The topic of `JobsPosted` logs, from the ABI. */
export const JOBS_POSTED_TOPIC: Hex = toEventSelector(getAbiItem({ abi: agencyAbi, name: "JobsPosted" }) as AbiEvent);

/** RFC 8785 canonical JSON: keys sorted by UTF-16 code units, ECMAScript number and string
 * forms (exactly what JSON.stringify gives for them). */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

/** What a JavaScript host reports of one run (`browser_host.js`): the job's first outcome and
 * its console lines. */
export interface Report {
  outcome: { ok?: string; kind?: string; json?: string } | null;
  logs: { level: string; message: string }[];
}

const utf8 = (s: string) => new TextEncoder().encode(s).length;

function failure(kind: string, message: string, stack: string, logs: Report["logs"]) {
  return { error: { kind, message, stack }, logs, ok: false };
}

/** The canonical envelope a report becomes under `outputLimit` (bytes): the log budget, the
 * prelude's stack frames dropped, the output limit, exactly as the Rust runner assembles it. */
export function assemble(report: Report, outputLimit: number): string {
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
