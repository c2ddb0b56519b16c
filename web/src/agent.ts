// The browser-tab agent: a key kept in this browser, a stake in the contract, and the honest
// agent's loop of docs/protocol.md §11: claim, fetch, run in a Web Worker, then submit (r = 1)
// or commit and reveal (r > 1), publishing the envelope to the store only with its digest. QuickJS-runtime jobs only; transcendental Math
// comes from V8 here, so jobs using it should not be replicated across browser and native
// agents (docs/browser-agent.md).

import {
  type Address,
  type Hex,
  type PrivateKeyAccount,
  type WalletClient,
  createWalletClient,
  formatEther,
  http,
  keccak256,
  parseEther,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type JobView, type Posted, JobBook, accountOf, agencyAbi, chain, config, jobOf, reader } from "./chain";
import { Phase, Status, commitment, isTerminal, jobId, meetsReputation, reputationFee } from "./protocol";
import { runJob } from "./runner";
import { getRaw, putRaw, rawCid, sha256Hex } from "./store";

const KEY = "agency.agent.key";
const STATE = "agency.agent.jobs";

/** What this tab keeps about each job it works on (survives a reload). */
interface Mine {
  slot: number;
  digest?: Hex;
  salt?: Hex;
  /** r > 1: the envelope, kept until the reveal publishes it (a stored block is public). */
  envelope?: string;
  done?: boolean;
}

export class BrowserAgent {
  readonly account: PrivateKeyAccount;
  private client: WalletClient;
  private running = false;
  private jobs: Record<string, Mine>;
  private busy = false;
  private readonly book = new JobBook();
  onLog: (line: string, kind?: string) => void = () => {};

  constructor() {
    let key = localStorage.getItem(KEY) as Hex | null;
    if (!key) {
      key = generatePrivateKey();
      localStorage.setItem(KEY, key);
    }
    this.account = privateKeyToAccount(key);
    this.client = createWalletClient({ account: this.account, chain, transport: http(chain.rpcUrls.default.http[0]) });
    this.jobs = JSON.parse(localStorage.getItem(STATE) ?? "{}");
  }

  get address(): Address {
    return this.account.address;
  }

  private save() {
    try {
      localStorage.setItem(STATE, JSON.stringify(this.jobs));
    } catch {
      // Over the storage quota: keep the digests and salts, drop the kept envelopes (a reload
      // then reveals without publishing; agreeing replicas publish the same bytes).
      const slim = Object.fromEntries(Object.entries(this.jobs).map(([k, v]) => [k, { ...v, envelope: undefined }]));
      localStorage.setItem(STATE, JSON.stringify(slim));
    }
  }

  private async send(functionName: string, args: unknown[], value?: bigint) {
    const hash = await this.client.writeContract({
      address: config.agency,
      abi: agencyAbi,
      functionName,
      args: args as never,
      value,
      account: this.account,
      chain,
    } as never);
    const receipt = await reader.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${functionName} failed on chain`);
    return receipt;
  }

  /** Deposits what is missing of `stake`, then works until stopped. */
  async start(stake: bigint) {
    const { balance } = await accountOf(this.address);
    if (balance < stake) {
      await this.send("deposit", [], stake - balance);
      this.onLog(`deposited ${formatEther(stake - balance)} ETH of stake`);
    }
    this.running = true;
    this.onLog("working: watching for jobs");
    while (this.running) {
      try {
        await this.tick();
      } catch (e) {
        this.onLog(`error: ${e instanceof Error ? e.message : e}`, "error");
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    this.onLog("stopped");
  }

  stop() {
    this.running = false;
  }

  private async tick() {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const job of await this.book.refresh()) {
        if (!this.running) return;
        await this.consider(job.posted, job.index, job.view);
      }
    } finally {
      this.busy = false;
    }
  }

  private async consider(posted: Posted, index: number, view: JobView) {
    const t = posted.terms;
    const id = jobId(t, index);
    const mine = this.jobs[id];
    if (mine?.done) return;
    // An ended job this tab never held: nothing to do, ever.
    if (!mine && isTerminal(view.status)) return;
    const now = Math.floor(Date.now() / 1000);
    if (!mine) {
      if (view.status !== Status.Open || now + 30 >= t.deadline) return;
      if (view.slots.some((s) => s.phase !== Phase.Empty && s.agent === this.address)) return;
      if (!view.slots.some((s) => s.phase === Phase.Empty)) return;
      const acc = await accountOf(this.address);
      if (acc.balance < t.collateral) return;
      if (!meetsReputation(t.minReputation, acc.points)) return;
      const spec = await this.spec(posted.specs[index]);
      // A spec without `engine` is for the first engine, as the Rust agents read it.
      if (spec.runtime !== "quickjs" || (spec.engine ?? 1) !== config.engine) return;
      await this.send("claim", [t, BigInt(index)]);
      const after = await jobOf(t, index);
      const slot = after.slots.findIndex((s) => s.phase === Phase.Claimed && s.agent === this.address);
      this.jobs[id] = { slot };
      this.save();
      this.onLog(`claimed job ${id.slice(0, 10)}… (slot ${slot})`);
      await this.work(posted, index, spec);
      return;
    }
    // A job already claimed: reveal when reveals open, note how it ended.
    if (view.status === Status.Revealing && mine.salt && view.slots[mine.slot]?.phase === Phase.Committed) {
      // The envelope goes into the store only now, with its digest: before, anyone reading the
      // store could take the result unpaid. If the tab lost it, agreeing replicas publish the
      // same bytes.
      if (mine.envelope !== undefined) await this.publish(mine.envelope, mine.digest!);
      await this.send("reveal", [t, BigInt(index), BigInt(mine.slot), mine.digest, mine.salt]);
      delete mine.envelope;
      this.save();
      this.onLog(`revealed job ${id.slice(0, 10)}…`);
    } else if (isTerminal(view.status)) {
      mine.done = true;
      this.save();
      const won = view.status === Status.Accepted && view.slots[mine.slot]?.agent === this.address;
      this.onLog(
        won ? `job ${id.slice(0, 10)}… accepted: earned its share of ${formatEther(t.reward - reputationFee(t.reward))} ETH` : `job ${id.slice(0, 10)}… ended (status ${view.status})`,
        won ? "earned" : undefined,
      );
    } else if (mine.digest === undefined && view.slots[mine.slot]?.phase === Phase.Claimed) {
      await this.work(posted, index, await this.spec(posted.specs[index]));
    }
  }

  /** Puts an envelope into the store and checks the store names it by its digest. */
  private async publish(envelope: string, digest: Hex) {
    const stored = await putRaw(new TextEncoder().encode(envelope));
    if (stored !== rawCid(digest)) throw new Error(`the store named the result ${stored}`);
  }

  private async spec(digest: Hex) {
    const bytes = await getRaw(rawCid(digest));
    if ((await sha256Hex(bytes)) !== digest) throw new Error(`the spec ${rawCid(digest)} does not match its digest`);
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  private async work(posted: Posted, index: number, spec: Record<string, unknown>) {
    const t = posted.terms;
    const id = jobId(t, index);
    const mine = this.jobs[id];
    const text = async (cid: string) => {
      const res = await fetch(`./ipfs/${cid}`);
      if (!res.ok) throw new Error(`fetching ${cid}: ${res.status}`);
      return new TextDecoder("utf-8", { fatal: true }).decode(await res.arrayBuffer());
    };
    const limits = spec.limits as { output: number };
    let envelope: string;
    try {
      envelope = await runJob({
        code: await text(spec.code as string),
        input: await text(spec.input as string),
        options: JSON.stringify(spec.options ?? {}),
        seedHex: spec.seed as string,
        timestampMs: spec.timestamp as number,
        outputLimit: limits.output,
      });
    } catch (e) {
      // A local failure is never a result: give the slot back.
      await this.send("release", [t, BigInt(index), BigInt(mine.slot)]);
      mine.done = true;
      this.save();
      this.onLog(`released job ${id.slice(0, 10)}…: ${e instanceof Error ? e.message : e}`);
      return;
    }
    if (t.replicas > 1 && !JSON.parse(envelope).ok) {
      // Failure envelopes carry V8's messages and stacks, which differ from QuickJS's: this
      // agent cannot vouch for one among replicas, so it gives the slot back uncommitted.
      await this.send("release", [t, BigInt(index), BigInt(mine.slot)]);
      mine.done = true;
      this.save();
      this.onLog(`released job ${id.slice(0, 10)}…: it failed, and failures differ between engines`);
      return;
    }
    const digest = await sha256Hex(new TextEncoder().encode(envelope));
    mine.digest = digest;
    if (t.replicas === 1) {
      this.save();
      // The slot is held: the digest and the envelope may be public now.
      await this.publish(envelope, digest);
      await this.send("submit", [t, BigInt(index), BigInt(mine.slot), digest]);
      this.onLog(`submitted job ${id.slice(0, 10)}…: ${rawCid(digest)}`);
    } else {
      const salt = keccak256(crypto.getRandomValues(new Uint8Array(32)));
      mine.salt = salt;
      mine.envelope = envelope;
      this.save(); // the salt is kept before the commitment leaves
      const sealed = commitment(BigInt(config.chain_id), config.agency, id, this.address, digest, salt);
      await this.send("commit", [t, BigInt(index), BigInt(mine.slot), sealed]);
      this.onLog(`committed job ${id.slice(0, 10)}…`);
    }
  }
}

export async function fundFromDev(to: Address, amount: string) {
  const dev = config.dev_accounts[config.dev_accounts.length - 1];
  const client = createWalletClient({ account: privateKeyToAccount(dev.private_key), chain, transport: http(chain.rpcUrls.default.http[0]) });
  const hash = await client.sendTransaction({ to, value: parseEther(amount), account: client.account!, chain });
  await reader.waitForTransactionReceipt({ hash });
}
