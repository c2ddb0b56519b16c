// Shared by the UI tests: headless Chromium (Debian's, or $AGENCY_CHROMIUM) through
// playwright-core, and the screenshot directory.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

export async function launch(outDir) {
  mkdirSync(outDir, { recursive: true });
  return chromium.launch({
    executablePath: process.env.AGENCY_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
}
