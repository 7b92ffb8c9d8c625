// Drives the editor of a real `fastsam serve` in Debian's chromium: upload, masks drawn, click → selection; the
// prompt options (one object per click, the text threshold slider, smooth masks) give what the API gives.
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
const clip = path.join(root, "tests/fixtures/clip/clip-tiny.pt");
const outDir = path.join(here, "out");

let server, baseUrl, context, profile;

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", "--model", model, "--clip", clip, "--addr", "127.0.0.1:0"], { stdio: ["ignore", "inherit", "pipe"] });
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

// A new page with bus.jpg uploaded and segmented; `errors` collects uncaught page errors.
async function openEditor() {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(baseUrl + "/");
  // On a loaded machine goto can resolve before the page is usable: wait for the editor itself.
  await page.waitForFunction(() => document.title === "FastSAM editor" && typeof state === "object", null, { timeout: 120_000 });
  await page.setInputFiles("#file", image);
  await page.waitForFunction(() => document.getElementById("busy").hidden && state.id, null, { timeout: 300_000 });
  return { page, errors };
}

// A pixel of annotation `i` near its box centre (from its RLE), in image coordinates.
function pixelInside(page, i) {
  return page.evaluate((i) => {
    const a = state.annotations[i];
    const m = rasterize(a.segmentation, state.width, state.height);
    const [bx, by, bw, bh] = a.bbox;
    const cx = Math.round(bx + bw / 2), cy = Math.round(by + bh / 2);
    let best = null, bestD = Infinity;
    for (let y = 0; y < state.height; y += 2) for (let x = 0; x < state.width; x += 2) {
      if (!m[y * state.width + x]) continue;
      const d = (x - cx) ** 2 + (y - cy) ** 2;
      if (d < bestD) { bestD = d; best = [x, y]; }
    }
    return best;
  }, i);
}

// Clicks image pixel [x, y] on screen; the editor turns the click back into the pixel's centre.
async function clickPixel(page, [x, y]) {
  const r = await page.evaluate(() => document.getElementById("ui").getBoundingClientRect().toJSON());
  const size = await page.evaluate(() => [state.width, state.height]);
  await page.mouse.click(r.left + (x + 0.5) * r.width / size[0], r.top + (y + 0.5) * r.height / size[1]);
}

// Waits until the editor shows the selection the API gives for `body` (asked from the page, so the same server).
async function showsApiSelection(page, body) {
  const want = await page.evaluate((b) => postSelect(b), body);
  await page.waitForFunction(
    (w) => state.selection && JSON.stringify(state.selection.indices) === w,
    JSON.stringify(want.indices), { timeout: 60_000 });
  const got = await page.evaluate(() => state.selection.annotations);
  assert.deepEqual(got.map((a) => a.segmentation), want.annotations.map((a) => a.segmentation));
  return want;
}

test("upload, masks drawn, click selects a mask", async () => {
  const { page, errors } = await openEditor();
  const masks = Number(await page.textContent("#mask-count"));
  assert.ok(masks > 0, "the segmentation of bus.jpg has masks");
  assert.ok(await page.evaluate(() => canvasHasInk("masks")), "masks are drawn");

  // A pixel inside the best-scored mask, found from its RLE, clicked on screen.
  await clickPixel(page, await pixelInside(page, 0));
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
  await page.close();
});

test("one object per click: each click adds its object", async () => {
  const { page, errors } = await openEditor();
  await page.check("#per-point");
  // Two clicks in two different masks: the second one outside the first mask.
  const first = await pixelInside(page, 0);
  const n = await page.evaluate(() => state.annotations.length);
  let second = null;
  for (let i = 1; i < n && !second; i++) {
    const p = await pixelInside(page, i);
    const outside = await page.evaluate(([x, y]) => !rasterize(state.annotations[0].segmentation, state.width, state.height)[y * state.width + x], p);
    if (outside) second = p;
  }
  assert.ok(second, "bus.jpg has a mask apart from the first");
  const body = (points) => ({ points, labels: points.map(() => 1), boxes: [], texts: [], point_mode: "per_point" });

  await clickPixel(page, first);
  const one = await showsApiSelection(page, body([first]));
  assert.equal(one.annotations.length, 1);
  assert.equal(one.annotations[0].point_index, 0);
  await clickPixel(page, second);
  const two = await showsApiSelection(page, body([first, second]));
  assert.ok(two.annotations.length >= 1 && two.annotations.every((a) => a.point_index === 0 || a.point_index === 1));
  assert.match(await page.textContent("#click-objects"), /objects of clicks 1/);
  await page.screenshot({ path: path.join(outDir, "editor-per-point.png") });
  // Off again: the reference's rule for the same two clicks.
  await page.uncheck("#per-point");
  await showsApiSelection(page, { points: [first, second], labels: [1, 1], boxes: [], texts: [] });
  assert.deepEqual(errors, []);
  await page.close();
});

test("text threshold slider: live, what each threshold selects", async () => {
  const { page, errors } = await openEditor();
  await page.check("#text-all");
  await page.fill("#text", "a bus");
  await page.press("#text", "Enter");
  await page.waitForFunction(() => state.candidates && document.querySelectorAll("#text-ticks span").length === state.candidates.length
    && state.selection, null, { timeout: 60_000 });
  const scores = (await page.evaluate(() => state.candidates)).slice().sort((a, b) => b - a);
  assert.ok(scores.length >= 3, `candidates: ${scores}`);
  const setThreshold = (v) => page.evaluate((v) => {
    const el = document.getElementById("text-threshold");
    el.value = String(v);
    el.dispatchEvent(new Event("input"));
    return Number(el.value);
  }, v);
  const min = await page.evaluate(() => Number(document.getElementById("text-threshold").min));
  // At the bottom of the slider every candidate; just under the third-best score, the three best (or more on a tie).
  for (const [v, atLeast] of [[min, scores.length], [Math.floor(scores[2] * 1000) / 1000, 3]]) {
    const t = await setThreshold(v);
    const want = await showsApiSelection(page, { points: [], labels: [], boxes: [], texts: ["a bus"], text_threshold: t });
    const kept = scores.filter((s) => s >= t).length;
    assert.equal(want.annotations.length, kept, `threshold ${t}`);
    assert.ok(kept >= atLeast && (atLeast === scores.length || kept < scores.length), `threshold ${t}: ${kept} of ${scores.length}`);
    assert.ok(want.annotations.every((a) => a.text === "a bus" && a.text_score >= t));
    assert.equal(await page.textContent("#threshold-info"), `${kept} of ${scores.length} candidate masks at or above ${t.toFixed(3)}`);
    assert.match(await page.textContent("#text-scores"), /^CLIP \d\.\d{3}/);
  }
  await page.screenshot({ path: path.join(outDir, "editor-threshold.png") });
  // Off: the reference's single best mask.
  await page.uncheck("#text-all");
  const best = await showsApiSelection(page, { points: [], labels: [], boxes: [], texts: ["a bus"] });
  assert.equal(best.annotations.length, 1);
  assert.equal(await page.isHidden("#threshold"), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test("smooth toggle: smoothed masks shown, selected and cut out", async () => {
  const { page, errors } = await openEditor();
  const raw = await page.evaluate(() => state.annotations.map((a) => a.segmentation.counts));
  await page.check("#smooth");
  const smoothed = await page.evaluate(() => api(`/v1/images/${state.id}/annotations?smooth=true`).then((r) => r.json()));
  await page.waitForFunction((want) => JSON.stringify(state.annotations.map((a) => a.segmentation.counts)) === want,
    JSON.stringify(smoothed.annotations.map((a) => a.segmentation.counts)), { timeout: 60_000 });
  assert.notDeepEqual(smoothed.annotations.map((a) => a.segmentation.counts), raw, "smoothing changes some mask");
  const p = await pixelInside(page, 0);
  await clickPixel(page, p);
  await showsApiSelection(page, { points: [p], labels: [1], boxes: [], texts: [], smooth: true });
  const request = page.waitForRequest(/\/cutout\.png\?ids=[\d,]+&smooth=true$/);
  const download = page.waitForEvent("download");
  await page.click("#dl-cutout");
  await request;
  assert.match((await download).url(), /^blob:/);
  // Off again: the raw masks come back.
  await page.uncheck("#smooth");
  await page.waitForFunction((want) => JSON.stringify(state.annotations.map((a) => a.segmentation.counts)) === want,
    JSON.stringify(raw), { timeout: 60_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test("SIGTERM shuts the server down gracefully", async () => {
  assert.equal(await stopServer(), 0);
});
