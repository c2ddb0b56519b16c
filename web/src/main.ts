// The dapp: post jobs, follow them, inspect results, agents and your account.
// Hash routes: #/ (jobs), #/job/<id>, #/post, #/agents, #/account.

import "./style.css";
import { type Address, type Hex, type WalletClient, formatEther, parseEther } from "viem";
import { accountOf, agencyAbi, JobBook, allEvents, config, findJob, init, jobEvents, jobOf, nextBlockTime, reader, wallet } from "./chain";
import { BrowserAgent, fundFromDev } from "./agent";
import { MAX_DURATION, MAX_REPLICAS, MIN_WINDOW, PHASE, Phase, STATUS, type Terms, canonical, defaultQuorum, jobId, reputationFee, slashReason, specsHash } from "./protocol";
import { runJob } from "./runner";
import { cidsIn, frameResult } from "./result";
import { add, getRaw, putRaw, rawCid, sha256Hex } from "./store";

const app = document.getElementById("app")!;
const walletSelect = document.getElementById("wallet") as HTMLSelectElement;
let refresh: number | undefined;

/** Builds an element: h("p", {class: "x"}, "text", child). Text is always text, never HTML. */
function h(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** An account's reputation: its points (what `minReputation` is compared with) and counters. */
function reputation(a: { points: bigint; accepted: bigint; rejected: bigint; missed: bigint }): string {
  return `${a.points} points: ${a.accepted} accepted, ${a.rejected} rejected, ${a.missed} missed`;
}

function eth(wei: bigint): string {
  return `${formatEther(wei)} ETH`;
}

function short(a: string): string {
  return `${a.slice(0, 6)}…${a.slice(-4)}`;
}

function show(...nodes: (Node | string)[]) {
  app.replaceChildren(...nodes);
}

function fail(e: unknown) {
  const msg = e instanceof Error ? e.message : String(e);
  return h("p", { class: "error", role: "alert" }, msg);
}

async function signer(): Promise<WalletClient> {
  return wallet(walletSelect.value);
}

// ---- #/ : the jobs, live --------------------------------------------------------------------

async function jobsPage() {
  const body = h("tbody");
  show(
    h("h1", {}, "Jobs"),
    h(
      "table",
      { id: "jobs" },
      h("thead", {}, h("tr", {}, ...["job", "status", "replicas", "reward", "requester"].map((c) => h("th", {}, c)))),
      body,
    ),
  );
  const book = new JobBook();
  const tick = async () => {
    const rows: HTMLElement[] = [];
    // Newest batch first, its jobs in order.
    const jobs = await book.refresh();
    const order = new Map<Hex, number>();
    for (const j of jobs) if (!order.has(j.posted.batch)) order.set(j.posted.batch, order.size);
    jobs.sort((a, b) => order.get(b.posted.batch)! - order.get(a.posted.batch)! || a.index - b.index);
    for (const { id, posted, view } of jobs) {
      rows.push(
        h(
          "tr",
          { "data-job": id, "data-status": STATUS[view.status] },
          h("td", {}, h("a", { href: `#/job/${id}` }, short(id))),
          h("td", { class: `status ${STATUS[view.status]}` }, STATUS[view.status]),
          h("td", {}, String(posted.terms.replicas)),
          h("td", {}, eth(posted.terms.reward)),
          h("td", {}, short(posted.terms.requester)),
        ),
      );
    }
    body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "5" }, "No jobs yet."))]));
  };
  await tick();
  refresh = window.setInterval(() => tick().catch(console.error), 1000);
}

// ---- #/job/<id> -----------------------------------------------------------------------------

async function jobPage(id: Hex) {
  const found = await findJob(id);
  if (!found) return show(h("h1", {}, "Job"), fail(`no job ${id} on this contract`));
  const { posted, index } = found;
  const t = posted.terms;
  const spec = rawCid(posted.specs[index]);
  const status = h("span", { id: "status" });
  const slots = h("tbody");
  const history = h("ol", { id: "history" });
  const result = h("section", { id: "result" });
  show(
    h("h1", {}, "Job ", h("code", {}, short(id))),
    h(
      "dl",
      {},
      h("dt", {}, "Status"), h("dd", {}, status),
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, id)),
      h("dt", {}, "Requester"), h("dd", {}, h("code", {}, t.requester)),
      h("dt", {}, "Reward"), h("dd", {}, `${eth(t.reward)} (collateral ${eth(t.collateral)} per slot; ${eth(reputationFee(t.reward))} of it burned as the reputation fee on acceptance)`),
      h("dt", {}, "Replicas"), h("dd", {}, `${t.replicas} (quorum ${t.quorum})`),
      h("dt", {}, "Reputation needed"), h("dd", {}, t.minReputation === 0 ? "none" : `${t.minReputation} points`),
      h("dt", {}, "Deadline"), h("dd", {}, new Date(t.deadline * 1000).toISOString()),
      h("dt", {}, "Spec"), h("dd", {}, h("a", { href: `./ipfs/${spec}` }, spec)),
    ),
    h("h2", {}, "Replicas"),
    h("table", { id: "slots" }, h("thead", {}, h("tr", {}, ...["slot", "agent", "phase", "result"].map((c) => h("th", {}, c)))), slots),
    h("h2", {}, "History"),
    history,
    result,
  );
  let shownResult = false;
  const tick = async () => {
    const view = await jobOf(t, index);
    status.textContent = STATUS[view.status];
    status.className = `status ${STATUS[view.status]}`;
    slots.replaceChildren(
      ...view.slots.map((s, i) =>
        h(
          "tr",
          {},
          h("td", {}, String(i)),
          h("td", {}, s.phase ? h("code", {}, s.agent) : "—"),
          h("td", { class: "phase" }, PHASE[s.phase]),
          // A revealed slot's sealed value is its result digest (r > 1).
          h("td", { class: "revealed" }, s.phase === Phase.Revealed && t.replicas > 1 ? short(rawCid(s.sealedResult)) : ""),
        ),
      ),
    );
    const events = await jobEvents(id);
    history.replaceChildren(
      ...events.map((e) => {
        const a = e.args;
        const who = a.agent ? ` ${short(a.agent as string)}` : "";
        const extra =
          e.eventName === "Slashed"
            ? ` lost ${eth(a.amount as bigint)}, burned: ${slashReason(Number(a.reason))}`
            : e.eventName === "Released"
              ? `, ${eth(a.burned as bigint)} of its collateral burned`
              : e.eventName === "Accepted"
                ? ` ${rawCid(a.result as string)}`
                : "";
        return h("li", { "data-event": e.eventName }, `block ${e.blockNumber}: ${e.eventName}${who}${extra}`);
      }),
    );
    const accepted = events.find((e) => e.eventName === "Accepted");
    if (accepted && !shownResult) {
      shownResult = true;
      await showResult(result, rawCid((accepted.args as { result: string }).result), spec);
    }
  };
  await tick();
  refresh = window.setInterval(() => tick().catch(console.error), 1000);
}

/** The text of the job's input, for the CIDs an HTML result may show; "" when unreadable. */
async function inputText(spec: string): Promise<string> {
  try {
    const { input } = JSON.parse(new TextDecoder().decode(await getRaw(spec)));
    const res = await fetch(`./ipfs/${input}`);
    return res.ok ? await res.text() : "";
  } catch {
    return "";
  }
}

/** The result envelope, its logs, and an HTML result rendered without scripts, showing only
 * inline media and the store's media the job's input names (`result.ts`). */
async function showResult(section: HTMLElement, cid: string, spec: string) {
  const bytes = await getRaw(cid);
  const text = new TextDecoder().decode(bytes);
  const envelope = JSON.parse(text);
  section.replaceChildren(
    h("h2", {}, "Result"),
    h("p", {}, h("a", { href: `./ipfs/${cid}` }, cid), envelope.ok ? " — the job succeeded" : " — the job failed"),
    h("pre", { id: "envelope" }, JSON.stringify(envelope, null, 2)),
    h("h3", {}, "Logs"),
    h("ol", { id: "logs" }, ...(envelope.logs ?? []).map((l: { level: string; message: string }) => h("li", {}, `${l.level}: ${l.message}`))),
  );
  const html = typeof envelope.result === "string" ? envelope.result : envelope.result?.html;
  if (typeof html === "string" && /<[a-z!]/i.test(html)) {
    const framed = frameResult(html, cidsIn(await inputText(spec)), location.origin);
    // An empty sandbox: no scripts, no forms, no same-origin access, no top navigation.
    const frame = h("iframe", { id: "html-result", sandbox: "", title: "HTML result", referrerpolicy: "no-referrer" }) as HTMLIFrameElement;
    frame.srcdoc = framed.srcdoc;
    section.append(h("h3", {}, "Rendered (scripts disabled)"), frame);
    if (framed.blocked.length) {
      section.append(
        h(
          "details",
          { id: "blocked" },
          h("summary", {}, `Blocked ${framed.blocked.length} remote load${framed.blocked.length === 1 ? "" : "s"}: a result may show only inline media and the store's files its job's input names`),
          h("ul", {}, ...framed.blocked.map((url) => h("li", {}, h("code", {}, url)))),
        ),
      );
    }
  }
}

// ---- #/post ---------------------------------------------------------------------------------

function postPage() {
  const form = h(
    "form",
    { id: "post" },
    h("label", {}, "Code (JsJob script)", h("textarea", { name: "code", rows: "10", required: "", placeholder: "window.jsJobRun = function (input, options, callback) { … }" })),
    h("label", {}, "…or a code file ", h("input", { type: "file", name: "codefile", accept: ".js,text/javascript" })),
    h("label", {}, "Input (JSON)", h("textarea", { name: "input", rows: "5", required: "" }, "{}")),
    h("label", {}, "…or an input file ", h("input", { type: "file", name: "inputfile", accept: ".json,application/json" })),
    h("label", {}, "Reward (ETH)", h("input", { name: "reward", value: "0.01", inputmode: "decimal" })),
    h("label", {}, "Replicas", h("input", { name: "replicas", type: "number", min: "1", max: String(MAX_REPLICAS), value: "1" })),
    h("label", {}, "Deadline (minutes)", h("input", { name: "deadline", type: "number", min: "1", value: "60" })),
    h("button", { type: "submit" }, "Post"),
  ) as HTMLFormElement;
  const status = h("p", { id: "post-status", role: "status" });
  show(h("h1", {}, "Post a job"), form, status);
  (form.elements.namedItem("codefile") as HTMLInputElement).addEventListener("change", async (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (file) (form.elements.namedItem("code") as HTMLTextAreaElement).value = await file.text();
  });
  (form.elements.namedItem("inputfile") as HTMLInputElement).addEventListener("change", async (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (file) (form.elements.namedItem("input") as HTMLTextAreaElement).value = await file.text();
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector("button")!;
    button.disabled = true;
    try {
      const code = String(data.get("code"));
      const input = String(data.get("input"));
      try {
        JSON.parse(input); // refused here, before anything is stored or paid
      } catch (e) {
        throw new Error(`the input is not JSON: ${e instanceof Error ? e.message : e}`);
      }
      const reward = parseEther(String(data.get("reward")));
      const replicas = Number(data.get("replicas"));
      if (!(reward > 0n)) throw new Error("the reward must be more than 0");
      if (!(replicas >= 1 && replicas <= MAX_REPLICAS)) throw new Error(`replicas: 1 to ${MAX_REPLICAS}`);
      const deadline = Number(data.get("deadline")) * 60;
      if (!(deadline >= MIN_WINDOW && deadline <= MAX_DURATION)) throw new Error("the deadline: 1 minute to 90 days");
      const client = await signer();
      status.textContent = "Adding the code and input to the store…";
      const enc = new TextEncoder();
      const codeCid = await add("job.js", enc.encode(code));
      const inputCid = await add("input.json", enc.encode(input));
      const seed = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
      const spec = {
        version: 1,
        code: codeCid,
        input: inputCid,
        options: {},
        runtime: "quickjs",
        engine: config.engine,
        limits: config.limits,
        seed,
        timestamp: Date.now(),
      };
      const bytes = enc.encode(canonical(spec));
      const digest = await sha256Hex(bytes);
      const stored = await putRaw(bytes);
      if (stored !== rawCid(digest)) throw new Error(`the store named the spec ${stored}, expected ${rawCid(digest)}`);
      const now = await nextBlockTime();
      const terms: Terms = {
        requester: client.account!.address,
        salt: BigInt(Math.floor(Math.random() * 2 ** 48)),
        count: 1,
        specs: specsHash([digest]),
        reward,
        collateral: reward,
        replicas,
        quorum: defaultQuorum(replicas),
        minReputation: 0,
        deliveryWindow: 600,
        revealWindow: 600,
        deadline: now + deadline,
      };
      status.textContent = "Posting: confirm in your wallet…";
      const hash = await client.writeContract({
        address: config.agency,
        abi: agencyAbi,
        functionName: "post",
        args: [terms as never, [digest]],
        value: reward,
        account: client.account!,
        chain: client.chain,
      });
      await reader.waitForTransactionReceipt({ hash });
      location.hash = `#/job/${jobId(terms, 0)}`;
    } catch (e) {
      status.replaceChildren(fail(e));
    } finally {
      button.disabled = false;
    }
  });
}

// ---- #/agents and #/account -----------------------------------------------------------------

async function agentsPage() {
  const agents = new Set<Address>();
  for (const e of await allEvents()) {
    const a = (e.args as { agent?: Address }).agent;
    if (e.eventName === "Claimed" && a) agents.add(a);
  }
  const rows = await Promise.all(
    [...agents].map(async (a) => {
      const acc = await accountOf(a);
      return h(
        "tr",
        { "data-agent": a },
        h("td", {}, h("code", {}, a)),
        h("td", {}, eth(acc.balance)),
        h("td", {}, String(acc.points)),
        h("td", {}, `${acc.accepted} / ${acc.rejected} / ${acc.missed}`),
      );
    }),
  );
  show(
    h("h1", {}, "Agents"),
    h(
      "table",
      { id: "agents" },
      h("thead", {}, h("tr", {}, ...["agent", "balance (stake)", "reputation points", "accepted / rejected / missed"].map((c) => h("th", {}, c)))),
      h("tbody", {}, ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "4" }, "No agent has claimed a job yet."))])),
    ),
  );
}

async function accountPage() {
  const client = await signer();
  const me = client.account!.address;
  const acc = await accountOf(me);
  const walletBalance = await reader.getBalance({ address: me });
  const status = h("p", { id: "account-status", role: "status" });
  const button = h("button", { id: "withdraw" }, "Withdraw all") as HTMLButtonElement;
  button.disabled = acc.balance === 0n;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const hash = await client.writeContract({
        address: config.agency,
        abi: agencyAbi,
        functionName: "withdraw",
        args: [acc.balance],
        account: client.account!,
        chain: client.chain,
      });
      await reader.waitForTransactionReceipt({ hash });
      await accountPage();
    } catch (e) {
      status.replaceChildren(fail(e));
      button.disabled = false;
    }
  });
  show(
    h("h1", {}, "Account"),
    h(
      "dl",
      {},
      h("dt", {}, "Address"), h("dd", {}, h("code", {}, me)),
      h("dt", {}, "Wallet"), h("dd", {}, eth(walletBalance)),
      h("dt", {}, "Balance in the contract"), h("dd", { id: "balance" }, eth(acc.balance)),
      h("dt", {}, "Reputation"), h("dd", {}, reputation(acc)),
    ),
    button,
    status,
  );
}

// ---- #/agent: this tab as an agent ---------------------------------------------------------

let agent: BrowserAgent | undefined;
const agentLog: { line: string; kind?: string }[] = [];

async function agentPage() {
  agent ??= new BrowserAgent();
  const a = agent;
  const info = h("dl", { id: "agent-info" });
  const log = h("ol", { id: "agent-log" });
  const stake = h("input", { name: "stake", value: "0.1", inputmode: "decimal" }) as HTMLInputElement;
  const start = h("button", { id: "agent-start" }, "Start working") as HTMLButtonElement;
  const stop = h("button", { id: "agent-stop" }, "Stop") as HTMLButtonElement;
  const fund = h("button", { id: "agent-fund" }, "Fund with 2 ETH from a dev account") as HTMLButtonElement;
  const status = h("p", { role: "status" });
  const renderLog = () =>
    log.replaceChildren(...agentLog.map((l) => h("li", l.kind ? { "data-kind": l.kind } : {}, l.line)));
  a.onLog = (line, kind) => {
    agentLog.push({ line, kind });
    renderLog();
  };
  renderLog();
  fund.hidden = config.dev_accounts.length === 0;
  fund.addEventListener("click", async () => {
    fund.disabled = true;
    try {
      await fundFromDev(a.address, "2");
    } catch (e) {
      status.replaceChildren(fail(e));
    }
    fund.disabled = false;
  });
  start.addEventListener("click", () => {
    start.disabled = true;
    a.start(parseEther(stake.value)).catch((e) => status.replaceChildren(fail(e)));
  });
  stop.addEventListener("click", () => {
    a.stop();
    start.disabled = false;
  });
  show(
    h("h1", {}, "Browser agent"),
    h(
      "p",
      {},
      "This tab can earn as an agent: its key stays in this browser, it stakes, runs QuickJS-runtime jobs in a Web Worker with the JsJob API, stores their results and submits, commits and reveals them on chain.",
    ),
    info,
    h("p", {}, h("label", {}, "Stake (ETH) ", stake), " ", start, " ", stop, " ", fund),
    status,
    h("h2", {}, "Activity"),
    log,
  );
  const tick = async () => {
    const acc = await accountOf(a.address);
    const wallet = await reader.getBalance({ address: a.address });
    info.replaceChildren(
      h("dt", {}, "Agent"), h("dd", { id: "agent-address" }, h("code", {}, a.address)),
      h("dt", {}, "Wallet"), h("dd", { id: "agent-wallet" }, eth(wallet)),
      h("dt", {}, "Balance in the contract"), h("dd", { id: "agent-balance" }, eth(acc.balance)),
      h("dt", {}, "Reputation"), h("dd", { id: "agent-reputation" }, reputation(acc)),
    );
  };
  await tick();
  refresh = window.setInterval(() => tick().catch(console.error), 1000);
}

// ---- routing --------------------------------------------------------------------------------

async function route() {
  window.clearInterval(refresh);
  const hash = location.hash.replace(/^#/, "") || "/";
  try {
    const job = hash.match(/^\/job\/(0x[0-9a-fA-F]{64})$/);
    if (job) await jobPage(job[1] as Hex);
    else if (hash === "/post") postPage();
    else if (hash === "/agents") await agentsPage();
    else if (hash === "/account") await accountPage();
    else if (hash === "/agent") await agentPage();
    else await jobsPage();
  } catch (e) {
    show(fail(e));
  }
}

async function main() {
  await init();
  const options = config.dev_accounts.map((a, i) => h("option", { value: `dev:${i}` }, `dev ${i}: ${short(a.address)}`));
  options.push(h("option", { value: "injected" }, "Injected wallet (EIP-1193)"));
  walletSelect.replaceChildren(...options);
  walletSelect.addEventListener("change", route);
  window.addEventListener("hashchange", route);
  await route();
}

// For tests: run a job in the browser agent's executor and get its canonical envelope.
(window as unknown as { __agencyRun: typeof runJob }).__agencyRun = runJob;

main().catch((e) => show(fail(e)));
