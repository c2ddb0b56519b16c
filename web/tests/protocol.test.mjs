// The dapp's protocol.ts against the sources and vectors the Rust side is checked against:
// the contract's enums and constants (contracts/src), the protocol vectors (contracts/vectors,
// made with @noble/hashes), and the runner's envelope vectors (crates/runner/tests/vectors).
// protocol.ts is loaded through Vite, as the bundle is built. Usage: node --test web/tests/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (path) => readFileSync(`${root}/${path}`, "utf8");
const vectors = (name) => JSON.parse(read(`contracts/vectors/${name}`)).vectors;
const iface = read("contracts/src/IJobAgency.sol");
const contract = read("contracts/src/JobAgency.sol");

/** The members of `enum NAME { … }` in IJobAgency.sol, in order. */
const members = (name) =>
  iface
    .split(`enum ${name} {`)[1]
    .split("}")[0]
    .split(",")
    .map((s) => s.trim());

/** The value of `constant NAME = VALUE;` in JobAgency.sol, `days` and `gwei` expanded. */
function constant(name) {
  const value = contract.match(new RegExp(`constant ${name} = ([^;]+);`))[1].trim();
  const [n, unit] = value.split(" ");
  return unit === "days" ? Number(n) * 86_400 : unit === "gwei" ? Number(n) * 1e9 : Number(n);
}

/** `NoConsensus` as the CLI spells it: `no-consensus`. */
const kebab = (name) => name.replace(/[a-z][A-Z]/g, (m) => `${m[0]}-${m[1]}`).toLowerCase();

let server;
let p;
before(async () => {
  server = await createServer({
    configFile: false,
    root: `${root}/web`,
    logLevel: "error",
    appType: "custom",
    server: { middlewareMode: true, hmr: false, watch: null },
  });
  p = await server.ssrLoadModule("/src/protocol.ts");
});
after(() => server?.close());

test("status, phase and slash codes are the contract's", () => {
  const status = members("Status");
  assert.deepEqual([...p.STATUS], status.map(kebab));
  for (const [i, name] of status.entries()) assert.equal(p.Status[name], i, name);
  assert.deepEqual(
    status.filter((_, i) => p.isTerminal(i)),
    ["Accepted", "NoConsensus", "Expired", "Cancelled"],
  );
  const phase = members("Phase");
  assert.deepEqual([...p.PHASE], phase.map(kebab));
  for (const [i, name] of phase.entries()) assert.equal(p.Phase[name], i, name);
  const reasons = [...contract.matchAll(/constant SLASH_(\w+) = (\d+);/g)];
  assert.equal(reasons.length, p.SLASH_REASONS.length);
  for (const [, name, code] of reasons) {
    const words = { EVICTED: "evicted", UNDELIVERED: "undelivered", NO_REVEAL: "not reveal", WRONG_RESULT: "wrong result" };
    assert.match(p.slashReason(Number(code)), new RegExp(words[name]), name);
  }
  assert.equal(p.slashReason(9), "?");
});

test("bounds and the default quorum are the contract's", () => {
  assert.equal(p.MAX_REPLICAS, constant("MAX_REPLICAS"));
  assert.equal(p.MIN_WINDOW, constant("MIN_WINDOW"));
  assert.equal(p.MAX_DURATION, constant("MAX_DURATION"));
  // The smallest strict majority: r = 1 → 1, 3 → 2, 4 → 3, 15 → 8.
  assert.deepEqual([1, 2, 3, 4, 5, 15].map(p.defaultQuorum), [1, 2, 2, 3, 3, 8]);
});

test("reputation matters only where a job asks for it, as in the contract", () => {
  assert.equal(p.meetsReputation(0, 0n), true);
  assert.equal(p.meetsReputation(2, 2n), true);
  assert.equal(p.meetsReputation(2, 1n), false);
  assert.match(contract, /if \(points < t\.minReputation\) revert ReputationTooLow/);
});

test("the reputation fee and the point are the contract's", () => {
  assert.equal(Number(p.REPUTATION_FEE_BPS), constant("REPUTATION_FEE_BPS"));
  assert.equal(Number(p.POINT), constant("POINT"));
  assert.equal(p.reputationFee(99n), 0n, "rounded down");
  assert.equal(p.reputationFee(10n ** 18n), 10n ** 16n, "1% of 1 ether");
});

test("terms have the ABI's fields, in its order", () => {
  const post = p.agencyAbi.find((x) => x.type === "function" && x.name === "post");
  const fields = post.inputs[0].components.map((c) => c.name);
  assert.deepEqual(fields, ["requester", "salt", "count", "specs", "reward", "collateral", "replicas", "quorum", "minReputation", "deliveryWindow", "revealWindow", "deadline"]);
});

test("job ids, batch ids and spec hashes match the vectors", () => {
  const vs = vectors("job-ids.json");
  assert.equal(vs.length, 3);
  for (const v of vs) {
    const terms = {
      requester: v.requester,
      salt: BigInt(v.salt),
      count: v.count,
      specs: v.specs,
      reward: BigInt(v.reward),
      collateral: BigInt(v.collateral),
      replicas: v.replicas,
      quorum: v.quorum,
      minReputation: v.minReputation,
      deliveryWindow: v.deliveryWindow,
      revealWindow: v.revealWindow,
      deadline: v.deadline,
    };
    assert.equal(p.specsHash(v.specDigests), v.specs);
    assert.equal(p.batchId(terms), v.batchId);
    assert.equal(p.jobId(terms, v.count - 1), v.lastJobId);
    assert.deepEqual(p.splitJobId(v.lastJobId), { batch: v.batchId, index: v.count - 1 });
  }
});

test("commitments match the vectors", () => {
  const vs = vectors("commitments.json");
  assert.equal(vs.length, 6);
  for (const v of vs) {
    assert.equal(p.commitment(BigInt(v.chainId), v.agency, v.job, v.agent, v.result, v.salt), v.commitment);
  }
});

test("the JobsPosted topic is the event's signature hash", async () => {
  const { keccak_256 } = await import("@noble/hashes/sha3.js");
  const signature =
    "JobsPosted(bytes32,address,(address,uint64,uint32,bytes32,uint128,uint128,uint8,uint8,uint32,uint32,uint32,uint40),bytes32[])";
  const expected = `0x${Buffer.from(keccak_256(new TextEncoder().encode(signature))).toString("hex")}`;
  assert.equal(p.JOBS_POSTED_TOPIC, expected);
});

const envelopes = JSON.parse(read("crates/runner/tests/vectors/envelopes.json"));

test("reports become the runner's envelopes", () => {
  assert.ok(envelopes.reports.length >= 10);
  for (const c of envelopes.reports) {
    assert.equal(p.assemble(c.report, c.output_limit), c.envelope, c.name);
  }
});

test("canonical JSON is the runner's (RFC 8785)", () => {
  for (const c of envelopes.canonical) {
    assert.equal(p.canonical(JSON.parse(c.input)), c.canonical, c.name);
  }
});
