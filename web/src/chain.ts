// The chain side: configuration from the server, viem clients, and reading jobs and events.
// The rules (codes, ids, terms, topics) are in protocol.ts.

import {
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  http,
  parseEventLogs,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { JOBS_POSTED_TOPIC, type Limits, type Terms, agencyAbi, isTerminal, jobId, splitJobId } from "./protocol";

export { agencyAbi };

/** A decoded JobAgency event. */
export interface Event {
  eventName: string;
  args: Record<string, unknown>;
  blockNumber: bigint;
}

/** What the server tells the app (`/api/config`). */
export interface Config {
  agency: Address;
  chain_id: number;
  /** Dev accounts with their keys (agency dev only). */
  dev_accounts: { address: Address; private_key: Hex }[];
  /** The default limits of a job spec (the runner's). */
  limits: Limits;
  /** The QuickJS engine version this build runs: what the post form writes into a spec, and the
   * only one the browser agent runs. */
  engine: number;
}

export interface Posted {
  batch: Hex;
  terms: Terms;
  specs: Hex[];
  block: bigint;
}

export interface SlotView {
  agent: Address;
  phase: number;
  deadline: bigint;
  sealedResult: Hex;
}

export interface JobView {
  id: Hex;
  status: number;
  held: bigint;
  committed: bigint;
  revealed: bigint;
  revealEnd: bigint;
  slots: readonly SlotView[];
}

export let config: Config;
export let chain: Chain;
export let reader: PublicClient;

export async function init(): Promise<void> {
  const res = await fetch("./api/config");
  if (!res.ok) throw new Error(`/api/config: ${res.status}`);
  config = await res.json();
  const rpc = new URL("./rpc", location.href).toString();
  chain = defineChain({
    id: config.chain_id,
    name: `chain ${config.chain_id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  });
  reader = createPublicClient({ chain, transport: http(rpc), pollingInterval: 250 });
}

/** The earliest time the next block will carry: the latest block's timestamp, or the wall clock
 * if later (a dev chain mines its next block at the wall clock's time however long it sat idle);
 * what a deadline counted from "now" counts from. */
export async function nextBlockTime(): Promise<number> {
  const block = await reader.getBlock();
  return Math.max(Number(block.timestamp), Math.floor(Date.now() / 1000));
}

/** A wallet: a dev account's key kept in this page, or an injected EIP-1193 wallet. */
export async function wallet(choice: string): Promise<WalletClient> {
  const rpc = chain.rpcUrls.default.http[0];
  if (choice.startsWith("dev:")) {
    const dev = config.dev_accounts[Number(choice.slice(4))];
    return createWalletClient({ account: privateKeyToAccount(dev.private_key), chain, transport: http(rpc) });
  }
  const eth = (window as unknown as { ethereum?: Parameters<typeof custom>[0] }).ethereum;
  if (!eth) throw new Error("no injected wallet (EIP-1193) in this browser");
  const client = createWalletClient({ chain, transport: custom(eth) });
  const [account] = await client.requestAddresses();
  return createWalletClient({ account, chain, transport: custom(eth) });
}

function toTerms(t: Record<string, unknown>): Terms {
  return {
    requester: t.requester as Address,
    salt: BigInt(t.salt as bigint),
    count: Number(t.count),
    specs: t.specs as Hex,
    reward: BigInt(t.reward as bigint),
    collateral: BigInt(t.collateral as bigint),
    replicas: Number(t.replicas),
    quorum: Number(t.quorum),
    minReputation: Number(t.minReputation),
    deliveryWindow: Number(t.deliveryWindow),
    revealWindow: Number(t.revealWindow),
    deadline: Number(t.deadline),
  };
}

async function logs(topics: (Hex | null)[], from = 0n, to?: bigint) {
  const raw = await reader.request({
    method: "eth_getLogs",
    params: [
      {
        address: config.agency,
        fromBlock: `0x${from.toString(16)}`,
        toBlock: to === undefined ? "latest" : `0x${to.toString(16)}`,
        topics,
      },
    ],
  });
  return parseEventLogs({ abi: agencyAbi, logs: raw as never }) as unknown as Event[];
}

/** Every event of the contract, oldest first. */
export async function allEvents(): Promise<Event[]> {
  return logs([]);
}

/** Every batch posted, oldest first (only `batch`'s if given). */
export async function batches(batch?: Hex): Promise<Posted[]> {
  return postedIn(await logs(batch ? [JOBS_POSTED_TOPIC, batch] : [JOBS_POSTED_TOPIC]));
}

function postedIn(found: Event[]): Posted[] {
  return found.flatMap((l) =>
    l.eventName === "JobsPosted"
      ? [
          {
            batch: l.args.batch as Hex,
            terms: toTerms(l.args.terms as never),
            specs: [...(l.args.specs as Hex[])],
            block: l.blockNumber,
          },
        ]
      : [],
  );
}

/** A job as a {@link JobBook} tracks it. */
export interface Tracked {
  id: Hex;
  posted: Posted;
  index: number;
  view: JobView;
}

/**
 * Every job of the contract, kept current at a cost that does not grow with the market's
 * history: each refresh reads only the blocks posted since the last one, and `jobOf` only for
 * the jobs not yet over (an ended job never changes again).
 */
export class JobBook {
  private next = 0n;
  private readonly tracked = new Map<Hex, Tracked>();

  /** Catches up with the chain; returns every job, oldest first. */
  async refresh(): Promise<Tracked[]> {
    const head = await reader.getBlockNumber();
    const added = new Set<Hex>();
    if (head >= this.next) {
      for (const posted of postedIn(await logs([JOBS_POSTED_TOPIC], this.next, head))) {
        for (let index = 0; index < posted.terms.count; index++) {
          const id = jobId(posted.terms, index);
          if (!this.tracked.has(id)) {
            this.tracked.set(id, { id, posted, index, view: await jobOf(posted.terms, index) });
            added.add(id);
          }
        }
      }
      this.next = head + 1n;
    }
    // Jobs just added were read above; the rest are read again while not over.
    for (const job of this.tracked.values()) {
      if (!added.has(job.id) && !isTerminal(job.view.status)) job.view = await jobOf(job.posted.terms, job.index);
    }
    return [...this.tracked.values()];
  }
}

/** The batch and index of job `id`. */
export async function findJob(id: Hex): Promise<{ posted: Posted; index: number } | null> {
  const { batch, index } = splitJobId(id);
  const [posted] = await batches(batch);
  return posted && index < posted.terms.count ? { posted, index } : null;
}

/** Every event about job `id`, oldest first. */
export async function jobEvents(id: Hex) {
  return logs([null, id]);
}

export async function jobOf(terms: Terms, index: number): Promise<JobView> {
  return (await reader.readContract({
    address: config.agency,
    abi: agencyAbi,
    functionName: "jobOf",
    args: [terms as never, BigInt(index)],
  })) as JobView;
}

export async function accountOf(address: Address) {
  const [balance, agent, accepted, rejected, missed, points] = (await reader.readContract({
    address: config.agency,
    abi: agencyAbi,
    functionName: "accountOf",
    args: [address],
  })) as unknown as [bigint, bigint, bigint, bigint, bigint, bigint];
  return { balance, agent, accepted, rejected, missed, points };
}
