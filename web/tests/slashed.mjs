// Opens a job's page in headless Chromium and waits until its history shows an agent slashed
// for a wrong result. Usage: node web/tests/slashed.mjs WEB_URL OUT_DIR JOB_ID
import { launch } from "./browser.mjs";

const [base, outDir, job] = process.argv.slice(2);
const browser = await launch(outDir);
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(30_000);
  await page.goto(`${base}/#/job/${job}`);
  await page.locator("#status.accepted").waitFor();
  const slashed = page.locator('#history li[data-event="Slashed"]');
  await slashed.waitFor();
  const text = await slashed.textContent();
  if (!text.includes("wrong result")) throw new Error(`slashed for something else: ${text}`);
  const phases = await page.locator("#slots .phase").allTextContents();
  console.log(JSON.stringify({ slashed: text, phases }));
  await page.screenshot({ path: `${outDir}/liar-slashed.png`, fullPage: true });
} finally {
  await browser.close();
}
