// The browser-tab agent in headless Chromium against `agency dev --workers 2`: the tab funds
// itself from a dev account, stakes, and takes the third slot of an r = 3 job posted through
// the UI; the job is accepted only if its envelope bytes equal the native agents'. Then every
// JsJob fixture runs in the tab's executor and the envelopes are printed for comparison.
// Usage: node web/tests/agent.mjs WEB_URL OUT_DIR FIXTURES_JSON
import { readFileSync } from "node:fs";
import { launch } from "./browser.mjs";

const [base, outDir, fixturesFile] = process.argv.slice(2);
const fixtures = JSON.parse(readFileSync(fixturesFile, "utf8"));
const browser = await launch(outDir);
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const agentTab = await context.newPage();
  agentTab.on("pageerror", (e) => errors.push(String(e)));
  agentTab.setDefaultTimeout(30_000);
  await agentTab.goto(`${base}/#/agent`);
  const address = (await agentTab.locator("#agent-address").textContent()).trim();
  await agentTab.locator("#agent-fund").click();
  await agentTab.locator("#agent-wallet", { hasText: "2 ETH" }).waitFor();
  await agentTab.locator("#agent-start").click();
  await agentTab.locator("#agent-log li", { hasText: "working" }).waitFor();

  // A requester in another tab posts an r = 3 job; two native agents take two slots.
  const requester = await context.newPage();
  requester.setDefaultTimeout(60_000);
  await requester.goto(`${base}/#/post`);
  await requester.locator("textarea[name=code]").fill(
    "window.jsJobRun = function (input, options, cb) { setTimeout(function () { console.log('seeded', Math.random()); cb(null, {n: input.n * 2, when: Date.now()}); }, 5000); };",
  );
  await requester.locator("textarea[name=input]").fill('{"n": 21}');
  await requester.locator("input[name=replicas]").fill("3");
  await requester.locator("button[type=submit]").click();
  await requester.waitForURL(/#\/job\/0x[0-9a-f]{64}$/);
  await requester.locator("#status.accepted").waitFor();
  const agents = await requester.locator("#slots tbody tr td:nth-child(2)").allTextContents();
  if (!agents.map((a) => a.toLowerCase()).includes(address.toLowerCase())) {
    throw new Error(`the browser agent ${address} holds no slot: ${agents}`);
  }
  const slashed = await requester.locator('#history li[data-event="Slashed"]').count();
  if (slashed) throw new Error("an agent was slashed: the envelopes differed");
  await requester.screenshot({ path: `${outDir}/browser-agent-job.png`, fullPage: true });

  await agentTab.locator('#agent-log li[data-kind="earned"]').waitFor();
  await agentTab.locator("#agent-reputation", { hasText: "1 accepted, 0 rejected, 0 missed" }).waitFor();
  await agentTab.screenshot({ path: `${outDir}/browser-agent.png`, fullPage: true });

  // The fixtures, in the tab's executor.
  const results = {};
  for (const [name, code] of Object.entries(fixtures)) {
    // A run that never settles (a job that froze the runner) is a result too, not a hang.
    results[name] = await Promise.race([
      agentTab.evaluate(
        (job) => window.__agencyRun(job, 3_000).catch((e) => `error: ${e.message}`),
        { code, input: '{"n": 21}', options: "{}", seedHex: "00".repeat(32), timestampMs: 0, outputLimit: 1048576 },
      ),
      new Promise((settle) => setTimeout(() => settle("error: the run never settled"), 20_000)),
    ]);
  }
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ agent: address, fixtures: results }));
} finally {
  await browser.close();
}
