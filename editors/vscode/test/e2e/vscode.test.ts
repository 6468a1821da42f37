/**
 * End to end in a real VS Code: code-server with the freshly built .vsix, driven in Debian's
 * Chromium through playwright-core. Types `\cite{` in a LaTeX draft, checks the completion list,
 * accepts a paper that is only in the index and checks that the .bib on disk gained its entry
 * without a save, while the draft waits for the user to save it; types a title word that the key
 * does not start with, accepts the paper with Enter, saves all and checks both files on disk.
 * Run by scripts/e2e.sh, which prepares everything and passes the paths below in the environment.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { chromium, Page } from "playwright-core";

const env = (name: string): string => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run scripts/e2e.sh)`);
  return value;
};

const CODE_SERVER = env("E2E_CODE_SERVER");
const WORK = env("E2E_WORK");
const WORKSPACE = env("E2E_WORKSPACE");
const DRAFT = env("E2E_DRAFT");
const BIB = env("E2E_BIB");
const ARTIFACTS = env("E2E_ARTIFACTS");
const LINE = env("E2E_LINE");
const BIB_PREFIX = env("E2E_BIB_PREFIX");
const BIB_KEY = env("E2E_BIB_KEY");
const INDEX_PREFIX = env("E2E_INDEX_PREFIX");
const INDEX_KEY = env("E2E_INDEX_KEY");
const TITLE_WORD = env("E2E_TITLE_WORD");
const TITLE_KEY = env("E2E_TITLE_KEY");
const STEP_TIMEOUT_MS = 120_000;
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function prepareProfile(): { userData: string; extensions: string } {
  const userData = join(WORK, "user-data");
  const extensions = join(WORK, "extensions");
  mkdirSync(join(userData, "User"), { recursive: true });
  const settings = {
    "security.workspace.trust.enabled": false,
    "workbench.startupEditor": "none",
    // VS Code for the web saves after a delay by default; desktop VS Code, whose behaviour this test checks, does not.
    "files.autoSave": "off",
    "workbench.tips.enabled": false,
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "citewise.python": env("E2E_PYTHON"),
    "citewise.indexPath": env("E2E_INDEX"),
  };
  writeFileSync(join(userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
  execFileSync(CODE_SERVER, ["--user-data-dir", userData, "--extensions-dir", extensions, "--install-extension", env("E2E_VSIX")], {
    stdio: "inherit",
  });
  return { userData, extensions };
}

async function startCodeServer(port: number, profile: { userData: string; extensions: string }): Promise<ChildProcess> {
  const args = ["--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check"];
  args.push("--user-data-dir", profile.userData, "--extensions-dir", profile.extensions, WORKSPACE);
  const server = spawn(CODE_SERVER, args, { env: { ...process.env, XDG_CONFIG_HOME: join(WORK, "config") }, stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  server.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  server.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (log.join("").includes("HTTP server listening")) {
      return server;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  server.kill();
  throw new Error(`code-server did not start:\n${log.join("")}`);
}

async function suggestionLabels(page: Page): Promise<string[]> {
  return page.locator(".suggest-widget .monaco-list-row .label-name").allTextContents();
}

/** Triggers completion until `key` is among the labels; returns them. */
async function completeUntil(page: Page, key: string): Promise<string[]> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let labels: string[] = [];
  while (Date.now() < deadline) {
    await page.keyboard.press("Control+Space");
    await page.waitForTimeout(1500);
    labels = (await suggestionLabels(page)).map((label) => label.trim());
    if (labels.includes(key)) {
      return labels;
    }
  }
  throw new Error(`${key} never appeared in the completion list; last labels: ${labels.join(", ")}`);
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  await page.locator(".quick-input-widget input").fill(`>${title}`);
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
}

/** Drags the sash on the side bar's right edge, so that paper titles fit in the screenshot. */
async function widenSideBar(page: Page, pixels: number): Promise<void> {
  const box = await page.locator(".part.sidebar").boundingBox();
  if (!box) {
    return;
  }
  const x = box.x + box.width + 1;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + pixels, y, { steps: 10 });
  await page.mouse.up();
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("citewise in VS Code: complete, cite a paper from the index, .bib on disk", { timeout: 600_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  const server = await startCodeServer(port, prepareProfile());
  const browser = await chromium.launchPersistentContext(join(WORK, "chromium"), {
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
    viewport: { width: 1440, height: 900 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  t.after(async () => {
    await page.screenshot({ path: join(ARTIFACTS, "vscode-last.png") });
    await browser.close();
    server.kill();
  });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const bibBefore = readFileSync(BIB, "utf8");

  await t.test("the workbench opens the draft from the Explorer", async () => {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(WORKSPACE)}`);
    await page.locator(".explorer-folders-view .monaco-list-row", { hasText: DRAFT.split("/").pop() }).first().click();
    await page.locator(".monaco-editor .view-lines").first().waitFor();
    await page.locator(".statusbar-item", { hasText: "papers" }).first().waitFor();
  });

  await t.test("typing \\cite{ offers the .bib's key", async () => {
    await page.locator(".monaco-editor .view-lines").first().click();
    await page.keyboard.press("Control+g");
    await page.keyboard.type(LINE);
    await page.keyboard.press("Enter");
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.keyboard.type(`As shown before \\cite{${BIB_PREFIX}`);
    const labels = await completeUntil(page, BIB_KEY);
    assert.ok(labels.includes(BIB_KEY));
    await page.screenshot({ path: join(ARTIFACTS, "vscode-completion.png") });
    await page.keyboard.press("Escape");
  });

  await t.test("accepting a paper that is only in the index saves its entry to the .bib on disk", async () => {
    const draftBefore = readFileSync(DRAFT, "utf8");
    await page.keyboard.press("End");
    await page.keyboard.type(". Score-based generative models turn noise into data by reversing a diffusion \\cite{" + INDEX_PREFIX);
    await completeUntil(page, INDEX_KEY);
    await page.locator(".suggest-widget .monaco-list-row", { has: page.locator(".label-name", { hasText: new RegExp(`^${INDEX_KEY}$`) }) }).click();
    await waitFor(`${INDEX_KEY} in ${BIB}, saved without a Save`, () => readFileSync(BIB, "utf8").includes(`{${INDEX_KEY},`));
    const bibAfter = readFileSync(BIB, "utf8");
    assert.ok(bibAfter.startsWith(bibBefore.slice(0, 200)), "the start of the .bib changed");
    assert.ok(bibAfter.length > bibBefore.length);
    assert.equal(readFileSync(DRAFT, "utf8"), draftBefore, "the draft was saved for the user");
    await runCommand(page, "File: Save All");
  });

  await t.test("a title word inside the key finds an index paper; Enter cites it and Save All leaves its entry on disk", async () => {
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.keyboard.type(`Models can forget their training data \\cite{${TITLE_WORD}`);
    const labels = await completeUntil(page, TITLE_KEY);
    assert.equal(labels[0], TITLE_KEY, `the paper is not first: ${labels.join(", ")}`);
    await page.keyboard.press("Enter");
    await waitFor(`${TITLE_KEY} in ${BIB}`, () => readFileSync(BIB, "utf8").includes(`{${TITLE_KEY},`));
    await runCommand(page, "File: Save All");
    await waitFor(`\\cite{${TITLE_KEY} in the saved draft`, () => readFileSync(DRAFT, "utf8").includes(`\\cite{${TITLE_KEY}`));
    assert.equal(bibKeys(readFileSync(BIB, "utf8")).filter((key) => key === TITLE_KEY).length, 1, "the entry was added twice");
  });

  await t.test("the Suggested citations panel lists papers for the sentence", async () => {
    await page.keyboard.press("End");
    await page.keyboard.type(" have been shown to scale to high resolution image synthesis with transformers.");
    await page.keyboard.press("Home");
    await page.locator(".pane-header", { hasText: /^\s*Workspace/i }).first().click();
    await widenSideBar(page, 260);
    const panel = page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Suggested citations" }) });
    const header = panel.locator(".pane-header");
    if ((await header.getAttribute("aria-expanded")) !== "true") {
      await header.click();
    }
    await panel.locator(".monaco-list-row").first().waitFor();
    assert.ok((await panel.locator(".monaco-list-row").count()) > 0);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(ARTIFACTS, "vscode-suggestions-panel.png") });
  });

  await t.test("clicking a suggestion cites it in the draft, its entry in the .bib", async () => {
    // The library prior ranks the .bib's own papers first, so the paper clicked may already be there.
    const keysBefore = bibKeys(readFileSync(BIB, "utf8"));
    const draftBefore = readFileSync(DRAFT, "utf8");
    const panel = page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Suggested citations" }) });
    await panel.locator(".monaco-list-row").first().click();
    await page.waitForTimeout(1000);
    await runCommand(page, "File: Save All");
    await waitFor("a new citation in the saved draft", () => readFileSync(DRAFT, "utf8") !== draftBefore);
    const keysAfter = bibKeys(readFileSync(BIB, "utf8"));
    const added = keysAfter.filter((key) => !keysBefore.includes(key));
    assert.ok(added.length <= 1, `one entry at most was added: ${added.join(", ")}`);
    const draft = readFileSync(DRAFT, "utf8");
    assert.ok(keysAfter.some((key) => draft.split(key).length > draftBefore.split(key).length), "the draft cites a key of the .bib once more");
  });

  await t.test("Search papers: the picker follows what is typed and cites the chosen paper", async () => {
    const citedBefore = readFileSync(DRAFT, "utf8").split(INDEX_KEY).length;
    await runCommand(page, "citewise: Search papers");
    await page.locator(".quick-input-widget input").fill("score-based generative");
    await page.locator(".quick-input-list .monaco-list-row", { hasText: "Score-Based Generative Modeling" }).first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "vscode-search-papers.png") });
    await page.keyboard.press("Enter");
    await page.waitForTimeout(1000);
    await runCommand(page, "File: Save All");
    await waitFor(`another citation of ${INDEX_KEY} in the draft`, () => readFileSync(DRAFT, "utf8").split(INDEX_KEY).length > citedBefore);
  });

  await t.test("Reindex adds the workspace's .bib to the index, with progress", async () => {
    await runCommand(page, "citewise: Reindex");
    await page.locator(".notification-toast", { hasText: "Index rebuilt" }).first().waitFor();
    const statusText = async () => (await page.locator(".statusbar-item", { hasText: "papers" }).first().textContent()) ?? "";
    await waitFor("the status bar to count the .bib's papers", async () => Number((await statusText()).replace(/\D/g, "")) > 75);
  });
});

function bibKeys(bib: string): string[] {
  return [...bib.matchAll(/^@\w+\{([^,\s]+),/gm)].map((match) => match[1]);
}
