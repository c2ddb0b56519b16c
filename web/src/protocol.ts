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

/** Whether an agent with `points` of reputation may claim a job asking for `minReputation`
 * (`claim`, docs/protocol.md §6): anyone when it is 0, else points that reach it. */
export const meetsReputation = (minReputation: number, points: bigint): boolean =>
  minReputation === 0 || points >= BigInt(minReputation);

/** The share of an accepted job's reward burned as its reputation fee, in basis points. */
export const REPUTATION_FEE_BPS = 100n;
/** The wei of reputation fee one reputation point costs (1 gwei). */
export const POINT = 1_000_000_000n;

/** The wei an accepted job burns from its `reward` (§6); its winners share the rest. */
export const reputationFee = (reward: bigint): bigint => (reward * REPUTATION_FEE_BPS) / 10_000n;

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
/** What serde_json (which reads a report's JSON on the native side) refuses in `json` that
 * `JSON.parse` takes: a lone surrogate escape (`\ud800` unpaired, or `\udc00` alone). The
 * error text is serde_json's, `… at line L column C` with C in UTF-8 bytes; `null` when there
 * is none. `json` is `JSON.stringify` output, which escapes every lone surrogate and nothing
 * else of the kind. */
export function serdeRefusal(json: string): string | null {
  const at = (index: number, what: string) => {
    const lineStart = json.lastIndexOf("\n", index - 1) + 1;
    const line = json.slice(0, index).split("\n").length;
    return `${what} at line ${line} column ${utf8(json.slice(lineStart, index))}`;
  };
  const hex = (i: number) => (/^[0-9a-fA-F]{4}$/.test(json.slice(i, i + 4)) ? parseInt(json.slice(i, i + 4), 16) : -1);
  for (let i = json.indexOf("\\"); i !== -1 && i < json.length; i = json.indexOf("\\", i)) {
    if (json[i + 1] !== "u") {
      i += 2;
      continue;
    }
    const n = hex(i + 2);
    i += 6;
    if (n >= 0xdc00 && n <= 0xdfff) return at(i, "lone leading surrogate in hex escape");
    if (n < 0xd800 || n > 0xdbff) continue;
    if (json[i] !== "\\") return at(i + 1, "unexpected end of hex escape");
    if (json[i + 1] !== "u") return at(i + 2, "unexpected end of hex escape");
    const n2 = hex(i + 2);
    i += 6;
    if (n2 < 0xdc00 || n2 > 0xdfff) return at(i, "lone leading surrogate in hex escape");
  }
  return null;
}

/** Rust's `{:?}` of a string, as serde_json's "invalid type" messages quote it. */
function rustDebug(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\0") out += "\\0";
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** serde_json's refusal to read `v` (`JSON.parse` of the whole of `json`) as the runner's
 * struct `name` with the required `fields` (strings when `strings`), or `null` when it reads it. Top-level values
 * only: the one way a job gets such JSON out of the prelude is a `toJSON` on a prototype. */
function shapeRefusal(v: unknown, json: string, name: string, fields: string[], strings: boolean): string | null {
  const at = `at line 1 column ${utf8(json)}`;
  const invalid = (what: string) => `invalid type: ${what}, expected struct ${name} ${at}`;
  if (typeof v === "string") return invalid(`string ${rustDebug(v)}`);
  if (typeof v === "boolean") return invalid(`boolean \`${v}\``);
  if (v === null) return invalid("null");
  // serde reads an integer literal as an integer, anything else as a float (whose Rust
  // formatting this does not copy: such a result fails either way).
  if (typeof v === "number") return invalid(/^-?\d+$/.test(json) && Number.isSafeInteger(v) ? `integer \`${json}\`` : `floating point \`${v}\``);
  if (Array.isArray(v)) {
    return v.length === fields.length && (!strings || v.every((x) => typeof x === "string"))
      ? null
      : `invalid length ${v.length}, expected struct ${name} with ${fields.length} elements ${at}`;
  }
  const o = v as Record<string, unknown>;
  for (const f of fields) {
    if (!Object.prototype.hasOwnProperty.call(o, f)) return `missing field \`${f}\` ${at}`;
    if (strings && typeof o[f] !== "string") return `invalid type: a non-string ${f}, expected a string`;
  }
  return null;
}

/** `{result, details}` (or `[result, details]`) as the runner reads it. */
function values(v: unknown): { result: unknown; details: unknown } {
  const [result, details] = Array.isArray(v) ? v : [(v as { result: unknown }).result, (v as { details: unknown }).details];
  return { result, details };
}

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
    const refused = serdeRefusal(o.ok);
    try {
      if (refused !== null) throw refused;
      const v = JSON.parse(o.ok);
      const shape = shapeRefusal(v, o.ok, "Values", ["result", "details"], false);
      if (shape !== null) throw shape;
      const { result, details } = values(v);
      envelope = { details, logs, ok: true, result };
    } catch (e) {
      envelope = failure("threw", `the result is not JSON: ${e}`, "", logs);
    }
  } else {
    const kind = ["no-entrypoint", "no-result", "bad-input", "syntax"].includes(o.kind ?? "") ? o.kind! : "threw";
    try {
      const refused = serdeRefusal(o.json ?? "");
      if (refused !== null) throw refused;
      const parsed = JSON.parse(o.json ?? "");
      const shape = shapeRefusal(parsed, o.json ?? "", "ErrorInfo", ["message", "stack"], true);
      if (shape !== null) throw shape;
      const info = Array.isArray(parsed) ? { message: parsed[0], stack: parsed[1] } : parsed;
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
