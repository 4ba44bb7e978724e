// A headless Chromium that pytest drives line by line: one JSON command per stdin line, one JSON
// answer per stdout line ({id, ok, result} or {id, ok: false, error}). Playwright comes from the
// npm package playwright-core and runs Debian's /usr/bin/chromium (no browser download).
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const AXE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
});
/** @type {Map<string, {context: any, page: any, problems: string[]}>} */
const pages = new Map();

async function pageOf(name, locale = "en-US") {
  let entry = pages.get(name);
  if (!entry) {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      // CSP refusals and script errors are failures; failed resource loads while the server restarts are not.
      if (message.type() === "error" && !/Failed to load resource|ERR_CONNECTION_REFUSED|WebSocket connection/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    entry = { context, page, problems };
    pages.set(name, entry);
  }
  return entry;
}

function locate(page, c) {
  if (c.role) return page.getByRole(c.role, { name: c.name, exact: c.exact ?? true });
  if (c.label) return page.getByLabel(c.label, { exact: true });
  let loc = page.locator(c.selector);
  if (c.hasText !== undefined) loc = loc.filter({ hasText: c.hasText });
  return loc;
}

const ops = {
  // Before the page loads: a script (CDP, not subject to the page's CSP) and permissions.
  async prepare(c) {
    const { context } = await pageOf(c.page, c.locale);
    if (c.script) await context.addInitScript(c.script);
    if (c.permissions) await context.grantPermissions(c.permissions);
  },
  async open(c) { const { page } = await pageOf(c.page, c.locale); await page.goto(c.url); return page.url(); },
  async goto(c) { const { page } = await pageOf(c.page); await page.goto(c.url); return page.url(); },
  async reload(c) { const { page } = await pageOf(c.page); await page.reload(); return page.url(); },
  async click(c) { const { page } = await pageOf(c.page); await locate(page, c).first().click({ timeout: c.timeout ?? 20000 }); },
  async fill(c) { const { page } = await pageOf(c.page); await locate(page, c).first().fill(c.text, { timeout: c.timeout ?? 20000 }); },
  async type(c) { const { page } = await pageOf(c.page); await locate(page, c).first().pressSequentially(c.text, { delay: c.delay ?? 20 }); },
  async press(c) { const { page } = await pageOf(c.page); await locate(page, c).first().press(c.key); },
  async check(c) { const { page } = await pageOf(c.page); await locate(page, c).first().setChecked(c.checked ?? true); },
  async select(c) { const { page } = await pageOf(c.page); await locate(page, c).first().selectOption(c.value); },
  async files(c) { const { page } = await pageOf(c.page); await locate(page, c).first().setInputFiles(c.path); },
  async wait(c) {
    const { page } = await pageOf(c.page);
    await locate(page, c).first().waitFor({ state: c.state ?? "visible", timeout: c.timeout ?? 20000 });
  },
  async texts(c) { const { page } = await pageOf(c.page); return await locate(page, c).allTextContents(); },
  async count(c) { const { page } = await pageOf(c.page); return await locate(page, c).count(); },
  async value(c) { const { page } = await pageOf(c.page); return await locate(page, c).first().inputValue(); },
  async attr(c) { const { page } = await pageOf(c.page); return await locate(page, c).first().getAttribute(c.attr); },
  async enabled(c) { const { page } = await pageOf(c.page); return await locate(page, c).first().isEnabled(); },
  async evaluate(c) { const { page } = await pageOf(c.page); return await page.evaluate(c.expression); },
  async title(c) { const { page } = await pageOf(c.page); return await page.title(); },
  async headers(c) {
    const { page } = await pageOf(c.page);
    const response = await page.goto(c.url);
    return { status: response.status(), headers: response.headers() };
  },
  async axe(c) {
    const { page } = await pageOf(c.page);
    // Runtime.evaluate is not subject to the page's CSP, so axe runs without weakening it.
    await page.evaluate(AXE);
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                            nodes: v.nodes.slice(0, 3).map((n) => n.html) }));
  },
  async screenshot(c) { const { page } = await pageOf(c.page); await page.screenshot({ path: c.path, fullPage: false }); },
  async problems(c) { const entry = await pageOf(c.page); return entry.problems.splice(0); },
  async closePage(c) { const entry = pages.get(c.page); if (entry) { await entry.context.close(); pages.delete(c.page); } },
};

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    const command = JSON.parse(line);
    try {
      const result = await ops[command.op](command);
      process.stdout.write(JSON.stringify({ id: command.id, ok: true, result: result ?? null }) + "\n");
    } catch (error) {
      process.stdout.write(JSON.stringify({ id: command.id, ok: false, error: String(error?.stack || error) }) + "\n");
    }
  });
});
lines.on("close", async () => { await queue; await browser.close(); process.exit(0); });
process.stdout.write(JSON.stringify({ id: 0, ok: true, result: "ready" }) + "\n");
