// Drives the dapp in headless Chromium (Debian's, through playwright-core) against a running
// `agency dev`: posts jobs through the form, watches them become accepted on the job page, and
// checks that an HTML result shows without running its scripts. Screenshots go to OUT_DIR.
// Usage: node web/tests/ui.mjs WEB_URL OUT_DIR
import { createServer } from "node:http";
import { launch } from "./browser.mjs";

// A 1×1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) throw new Error("usage: node web/tests/ui.mjs WEB_URL OUT_DIR");

const browser = await launch(outDir);
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(m.text()));
  page.setDefaultTimeout(30_000);
  await page.goto(`${base}/#/`);
  // Messages from any frame are recorded: a sandboxed result that ran a script would send one.
  await page.evaluate(() => {
    window.__messages = [];
    window.addEventListener("message", (e) => window.__messages.push(String(e.data)));
  });

  async function post(code, input, replicas) {
    await page.goto(`${base}/#/post`);
    await page.locator("textarea[name=code]").fill(code);
    await page.locator("textarea[name=input]").fill(input);
    await page.locator("input[name=replicas]").fill(String(replicas));
    await page.locator("button[type=submit]").click();
    await page.waitForURL(/#\/job\/0x[0-9a-f]{64}$/);
    await page.locator("#status.accepted").waitFor();
    await page.locator("#envelope").waitFor();
    return JSON.parse(await page.locator("#envelope").textContent());
  }

  // 1. A replicated job, posted through the form, followed to `accepted`.
  const sum = await post(
    "window.jsJobRun = function (input, options, cb) { console.log('adding'); cb(null, {sum: input.a + input.b}); };",
    '{"a": 2, "b": 3}',
    3,
  );
  if (sum.ok !== true || sum.result.sum !== 5) throw new Error(`envelope: ${JSON.stringify(sum)}`);
  const phases = await page.locator("#slots .phase").allTextContents();
  if (phases.join() !== "revealed,revealed,revealed") throw new Error(`slots: ${phases}`);
  const history = await page.locator("#history li").evaluateAll((li) => li.map((x) => x.dataset.event));
  if (history[0] !== "JobsPosted" || history.at(-1) !== "Accepted") throw new Error(`history: ${history}`);
  if ((await page.locator("#logs li").allTextContents()).join() !== "log: adding") throw new Error("logs");
  await page.screenshot({ path: `${outDir}/job-accepted.png`, fullPage: true });

  // 2. An HTML result with scripts: rendered in the sandbox, scripts never run.
  const html = await post(
    `window.jsJobRun = function (input, options, cb) {
       cb(null, {html: '<p id="marker">rendered by an agent</p>' +
         '<script>parent.postMessage("script ran", "*"); document.body.dataset.ran = "1";</scr' + 'ipt>' +
         '<img src="x" onerror="parent.postMessage(\\'handler ran\\', \\'*\\')">'});
     };`,
    "{}",
    1,
  );
  if (!html.ok) throw new Error(`html job failed: ${JSON.stringify(html)}`);
  const frame = page.locator("#html-result");
  if ((await frame.getAttribute("sandbox")) !== "") throw new Error("the iframe is not fully sandboxed");
  const marker = page.frameLocator("#html-result").locator("#marker");
  await marker.waitFor();
  if ((await marker.textContent()) !== "rendered by an agent") throw new Error("marker text");
  await page.waitForTimeout(500);
  const messages = await page.evaluate(() => window.__messages);
  if (messages.length) throw new Error(`a script in the result ran: ${messages}`);
  // Control: the same HTML in a frame that allows scripts, on a page without the dapp's
  // policy, does send its message, so the check above would have caught a script that ran.
  // (In the dapp, both the sandbox and the result's policy stop it.)
  const scripted = await browser.newPage();
  await scripted.evaluate((doc) => {
    window.__messages = [];
    window.addEventListener("message", (e) => window.__messages.push(String(e.data)));
    const control = document.createElement("iframe");
    control.setAttribute("sandbox", "allow-scripts");
    control.srcdoc = doc;
    document.body.append(control);
  }, html.result.html);
  await scripted.waitForFunction(() => window.__messages.includes("script ran"));
  await scripted.close();
  await frame.scrollIntoViewIfNeeded();
  await frame.screenshot({ path: `${outDir}/html-result-frame.png` });
  await page.screenshot({ path: `${outDir}/html-result.png`, fullPage: true });

  // 3. The job list shows both, accepted; the account page shows the requester.
  await page.goto(`${base}/#/`);
  await page.locator("#jobs tbody tr[data-status=accepted]").nth(1).waitFor();
  await page.screenshot({ path: `${outDir}/jobs.png`, fullPage: true });
  // Both jobs are over, so the list's refreshes read only the chain's head and new batches:
  // no more `jobOf` calls (eth_call), however long the market's history.
  const calls = [];
  const record = (req) => {
    if (req.url().endsWith("/rpc") && req.method() === "POST") calls.push(JSON.parse(req.postData()).method);
  };
  page.on("request", record);
  await page.waitForTimeout(2500);
  page.off("request", record);
  if (!calls.includes("eth_blockNumber")) throw new Error(`the list did not refresh: ${calls}`);
  if (calls.includes("eth_call")) throw new Error(`ended jobs were read again: ${calls}`);
  await page.goto(`${base}/#/agents`);
  await page.locator("#agents tbody tr[data-agent]").nth(2).waitFor();
  await page.screenshot({ path: `${outDir}/agents.png`, fullPage: true });
  await page.goto(`${base}/#/account`);
  await page.locator("#balance").waitFor();
  await page.screenshot({ path: `${outDir}/account.png`, fullPage: true });

  // 4. Bad input is refused in the form, before anything is stored or paid.
  await page.goto(`${base}/#/`);
  await page.locator("#jobs tbody tr[data-job]").nth(1).waitFor();
  const jobsBefore = await page.locator("#jobs tbody tr[data-job]").count();
  if (jobsBefore !== 2) throw new Error(`${jobsBefore} jobs listed, expected 2`);
  await page.goto(`${base}/#/post`);
  await page.locator("textarea[name=code]").fill("window.jsJobRun = function (i, o, cb) { cb(null, 1); };");
  await page.locator("textarea[name=input]").fill("{not json");
  await page.locator("button[type=submit]").click();
  await page.locator("#post-status .error", { hasText: "the input is not JSON" }).waitFor();
  await page.goto(`${base}/#/`);
  await page.locator("#jobs tbody tr[data-job]").nth(jobsBefore - 1).waitFor();
  if ((await page.locator("#jobs tbody tr[data-job]").count()) !== jobsBefore) throw new Error("a bad post was sent");

  // 5. An injected EIP-1193 wallet (a provider that forwards to the node, which signs for its
  // dev accounts the way a wallet would), with the code and input uploaded as files.
  const injected = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"; // dev account 1
  await injected.addInitScript((from) => {
    let id = 0;
    window.ethereum = {
      async request({ method, params }) {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [from];
        const res = await fetch("./rpc", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
        });
        const reply = await res.json();
        if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error);
        return reply.result;
      },
      on() {},
      removeListener() {},
    };
  }, account);
  const wallet = await injected.newPage();
  wallet.setDefaultTimeout(30_000);
  await wallet.goto(`${base}/#/post`);
  await wallet.locator("#wallet").selectOption("injected");
  await wallet.goto(`${base}/#/post`);
  await wallet.locator("input[name=codefile]").setInputFiles({
    name: "job.js",
    mimeType: "text/javascript",
    buffer: Buffer.from("window.jsJobRun = function (input, options, cb) { cb(null, input.word.toUpperCase()); };"),
  });
  await wallet.locator("input[name=inputfile]").setInputFiles({
    name: "input.json",
    mimeType: "application/json",
    buffer: Buffer.from('{"word": "injected"}'),
  });
  await wallet.waitForFunction(
    () =>
      document.querySelector("textarea[name=code]").value.includes("toUpperCase") &&
      document.querySelector("textarea[name=input]").value.includes("injected"),
  );
  await wallet.locator("button[type=submit]").click();
  await wallet.waitForURL(/#\/job\/0x[0-9a-f]{64}$/);
  await wallet.locator("#status.accepted").waitFor();
  const requester = (await wallet.locator("dd code").nth(1).textContent()).trim();
  if (requester !== account) throw new Error(`posted by ${requester}, not the injected wallet's ${account}`);
  const upper = JSON.parse(await wallet.locator("#envelope").textContent());
  if (upper.result !== "INJECTED") throw new Error(`envelope: ${JSON.stringify(upper)}`);
  await wallet.screenshot({ path: `${outDir}/injected-wallet.png`, fullPage: true });
  await injected.close();

  // 6. An HTML result that loads remote media (a lying agent's tracking pixel and stylesheet):
  // shown in Chromium, nothing is fetched from the remote server, which counts its requests,
  // and the page says what was blocked. Media from the store whose CID is in the job's input
  // still shows.
  const remote = [];
  const tracker = createServer((req, res) => {
    remote.push(req.url);
    res.writeHead(200, { "content-type": req.url.endsWith(".css") ? "text/css" : "image/png" });
    res.end(req.url.endsWith(".css") ? "body { background: red; }" : PNG);
  });
  await new Promise((ok) => tracker.listen(0, "127.0.0.1", ok));
  const at = `http://127.0.0.1:${tracker.address().port}`;
  const form = new FormData();
  form.append("file", new Blob([PNG]), "own.png");
  const added = await fetch(`${base}/api/v0/add?cid-version=1`, { method: "POST", body: form });
  const own = JSON.parse((await added.text()).trim().split("\n").at(-1)).Hash;
  const remoteHtml =
    `<meta http-equiv="refresh" content="0; url=${at}/navigated">` +
    `<link rel="dns-prefetch" href="${at}/hint"><link rel="stylesheet" href="${at}/style.css">` +
    `<style>@import "${at}/imported.css"; p { background: url(${at}/bg.png); }</style>` +
    `<p id="page">a page</p><img id="pixel" src="${at}/pixel.png">` +
    `<img srcset="${at}/set.png 2x"><div style="background-image: url('${at}/inline.png')"></div>`;
  const media = await post(
    `window.jsJobRun = function (input, options, cb) {
       cb(null, {html: ${JSON.stringify(remoteHtml)} + '<img id="own" src="/ipfs/' + input.image + '">'});
     };`,
    JSON.stringify({ image: own }),
    1,
  );
  if (!media.ok) throw new Error(`media job failed: ${JSON.stringify(media)}`);
  await page.frameLocator("#html-result").locator("#page").waitFor();
  await page.locator("#blocked").waitFor();
  await page.waitForTimeout(1000);
  if (remote.length) throw new Error(`the result fetched from a remote server: ${remote.join(", ")}`);
  const listed = await page.locator("#blocked li").allTextContents();
  for (const path of ["/pixel.png", "/style.css", "/imported.css", "/bg.png", "/set.png", "/inline.png", "/navigated", "/hint"]) {
    if (!listed.some((u) => u.endsWith(path))) throw new Error(`${path} not listed as blocked: ${listed}`);
  }
  if (listed.some((u) => u.includes(own))) throw new Error(`the input's own image was listed as blocked: ${listed}`);
  // The image the job's input names is shown: loaded, 1×1.
  const ownImage = page.frameLocator("#html-result").locator("#own");
  let width = 0;
  for (let tries = 0; tries < 100 && width !== 1; tries++) {
    width = await ownImage.evaluate((img) => (img.complete ? img.naturalWidth : 0));
    if (width !== 1) await page.waitForTimeout(100);
  }
  if (width !== 1) throw new Error(`the image the job's input names did not load (width ${width}): ${consoleLines.join(" | ")}`);
  await page.locator("#blocked").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${outDir}/html-result-blocked.png`, fullPage: true });
  // Control: the same HTML in a page without the policy does fetch from the server, so the
  // count above would have seen a load.
  const control = await browser.newPage();
  await control.setContent(remoteHtml.replace(/<meta[^>]*refresh[^>]*>/, ""));
  await control.waitForTimeout(500);
  await control.close();
  if (!remote.includes("/pixel.png")) throw new Error(`the control page fetched nothing: ${remote}`);
  tracker.close();

  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log("ui ok");
} finally {
  await browser.close();
}
