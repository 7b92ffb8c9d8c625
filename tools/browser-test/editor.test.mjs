// Drives the editor of a real `fastsam serve` in Debian's chromium: upload, masks drawn, click → selection.
// Usage: FASTSAM_BIN=target/debug/fastsam node --test tools/browser-test/editor.test.mjs
// (tools/setup-browser.sh installs chromium and playwright-core first).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const bin = process.env.FASTSAM_BIN || path.join(root, "target/debug/fastsam");
const tiny = path.join(root, "tests/fixtures/fastsam/fastsam-s-tiny.pt");
// Without the tiny FastSAM fixture, the FastSAM-x-shaped graph fixture: it finds 300 masks on bus.jpg (the
// FastSAM-s-shaped one finds none).
const model = process.env.FASTSAM_MODEL || (existsSync(tiny) ? tiny : path.join(root, "tests/fixtures/golden/graph/seg_x.pt"));
const image = path.join(root, "examples/bus.jpg");
const outDir = path.join(here, "out");

let server, baseUrl, context, profile;

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", "--model", model, "--addr", "127.0.0.1:0"], { stdio: ["ignore", "inherit", "pipe"] });
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no "listening" line from ${bin}:\n${seen}`)), 120_000);
    child.stderr.on("data", (chunk) => {
      seen += chunk;
      process.stderr.write(chunk);
      const m = /listening on (http:\/\/[\d.:]+)/.exec(seen);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`fastsam serve exited with ${code}:\n${seen}`)); });
  });
}

before(async () => {
  assert.ok(existsSync(bin), `no fastsam binary at ${bin} (set FASTSAM_BIN)`);
  ({ child: server, url: baseUrl } = await startServer());
  profile = mkdtempSync(path.join(tmpdir(), "fastsam-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

async function stopServer() {
  if (!server || server.exitCode !== null) return server?.exitCode;
  server.removeAllListeners("exit");
  const exited = new Promise((r) => server.once("exit", (code, signal) => r(code ?? signal)));
  server.kill("SIGTERM");
  return exited;
}

after(async () => {
  await context?.close();
  await stopServer();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test("upload, masks drawn, click selects a mask", async () => {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(baseUrl + "/");
  // On a loaded machine goto can resolve before the page is usable: wait for the editor itself.
  await page.waitForFunction(() => document.title === "FastSAM editor" && typeof state === "object", null, { timeout: 120_000 });

  await page.setInputFiles("#file", image);
  await page.waitForFunction(() => document.getElementById("busy").hidden && state.id, null, { timeout: 300_000 });
  const masks = Number(await page.textContent("#mask-count"));
  assert.ok(masks > 0, "the segmentation of bus.jpg has masks");
  assert.ok(await page.evaluate(() => canvasHasInk("masks")), "masks are drawn");

  // A pixel inside the best-scored mask, found from its RLE, clicked on screen.
  const target = await page.evaluate(() => {
    const a = state.annotations[0];
    const m = rasterize(a.segmentation, state.width, state.height);
    const [bx, by, bw, bh] = a.bbox;
    const cx = Math.round(bx + bw / 2), cy = Math.round(by + bh / 2);
    let best = null, bestD = Infinity;
    for (let y = 0; y < state.height; y += 2) for (let x = 0; x < state.width; x += 2) {
      if (!m[y * state.width + x]) continue;
      const d = (x - cx) ** 2 + (y - cy) ** 2;
      if (d < bestD) { bestD = d; best = [x, y]; }
    }
    const r = document.getElementById("ui").getBoundingClientRect();
    return { x: r.left + (best[0] + 0.5) * r.width / state.width, y: r.top + (best[1] + 0.5) * r.height / state.height };
  });
  await page.mouse.click(target.x, target.y);
  mkdirSync(outDir, { recursive: true });
  // Saved before waiting too, so a failure leaves a picture of what the page showed.
  await page.screenshot({ path: path.join(outDir, "editor.png") });
  await page.waitForFunction(() => Number(document.getElementById("selection").dataset.count) > 0, null, { timeout: 120_000 });
  const text = await page.textContent("#selection");
  assert.match(text, /selected · score \d\.\d{3}/);
  assert.ok(await page.evaluate(() => canvasHasInk("sel")), "the selection is highlighted");
  assert.match(await page.textContent("#latency"), /select \d+\.\d+ ms/);

  await page.screenshot({ path: path.join(outDir, "editor.png") });
  assert.deepEqual(errors, []);
});

test("SIGTERM shuts the server down gracefully", async () => {
  assert.equal(await stopServer(), 0);
});
