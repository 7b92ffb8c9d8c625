// FastSAM editor: upload once, then prompt the cached segmentation. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { id: null, name: "", width: 0, height: 0, annotations: [], prompts: [], selection: null, busy: false,
  // Every candidate mask's CLIP score for the current phrases (what the threshold slider chooses from).
  candidates: null, candidatesKey: "" };
const canvases = { photo: $("photo"), masks: $("masks"), sel: $("sel"), ui: $("ui") };

// ---- COCO compressed RLE -------------------------------------------------------------------------------------
// The counts string packs run lengths 5 bits per character (pycocotools' rleFrString); runs alternate 0/1 in
// column-major order, starting with zeros.
function rleCounts(s) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++; k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

// Calls fn(x, y0, y1) for each vertical run of set pixels.
function forEachRun(seg, fn) {
  const h = seg.size[0];
  const counts = rleCounts(seg.counts);
  let i = 0;
  for (let r = 0; r < counts.length; r++) {
    const n = counts[r];
    if (r % 2 === 1) {
      let start = i, left = n;
      while (left > 0) {
        const x = Math.floor(start / h), y = start % h, len = Math.min(left, h - y);
        fn(x, y, y + len);
        start += len; left -= len;
      }
    }
    i += n;
  }
}

function rasterize(seg, w, h) {
  const m = new Uint8Array(w * h);
  forEachRun(seg, (x, y0, y1) => { for (let y = y0; y < y1; y++) m[y * w + x] = 1; });
  return m;
}

// ---- Drawing -------------------------------------------------------------------------------------------------
const PALETTE = [[79,140,255],[46,194,126],[255,163,72],[199,110,255],[255,99,146],[64,210,220],[240,214,72],
  [140,200,90],[255,128,96],[120,150,255],[220,120,200],[90,220,170]];

function drawAllMasks() {
  const { width: w, height: h } = state;
  const ctx = canvases.masks.getContext("2d");
  const img = ctx.createImageData(w, h);
  const px = new Uint32Array(img.data.buffer);
  // Largest first, so small objects stay visible on top of the large ones around them.
  const order = state.annotations.map((a, i) => i).sort((a, b) => state.annotations[b].area - state.annotations[a].area);
  for (const i of order) {
    const [r, g, b] = PALETTE[i % PALETTE.length];
    const v = (90 << 24) | (b << 16) | (g << 8) | r; // little-endian RGBA, alpha ≈ 0.35
    forEachRun(state.annotations[i].segmentation, (x, y0, y1) => { for (let y = y0; y < y1; y++) px[y * w + x] = v; });
  }
  ctx.putImageData(img, 0, 0);
}

function drawSelection() {
  const { width: w, height: h } = state;
  const ctx = canvases.sel.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const anns = state.selection ? state.selection.annotations : [];
  if (!anns.length) return;
  const img = ctx.createImageData(w, h);
  const px = new Uint32Array(img.data.buffer);
  const edge = (255 << 24) | (255 << 16) | (255 << 8) | 255;
  // One object: the accent green. Several (one per click, every match of a phrase): a colour each.
  const colour = (i) => (anns.length === 1 ? [46, 194, 126] : PALETTE[i % PALETTE.length]);
  for (const [i, a] of anns.entries()) {
    const [r, g, b] = colour(i);
    const fill = (150 << 24) | (b << 16) | (g << 8) | r;
    const m = rasterize(a.segmentation, w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const k = y * w + x;
        if (!m[k]) continue;
        const border = x === 0 || y === 0 || x === w - 1 || y === h - 1 ||
          !m[k - 1] || !m[k + 1] || !m[k - w] || !m[k + w];
        px[k] = border ? edge : fill;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawPrompts(drag) {
  const ctx = canvases.ui.getContext("2d");
  ctx.clearRect(0, 0, state.width, state.height);
  const s = Math.max(state.width, state.height) / 900; // marker size in image pixels, ~constant on screen
  const box = (b, dashed) => {
    ctx.save();
    ctx.lineWidth = 2.5 * s;
    ctx.strokeStyle = "#4f8cff";
    ctx.fillStyle = "rgba(79,140,255,0.08)";
    if (dashed) ctx.setLineDash([8 * s, 6 * s]);
    ctx.fillRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    ctx.restore();
  };
  for (const p of state.prompts) {
    if (p.kind === "box") box(p.box, false);
    if (p.kind !== "point") continue;
    ctx.beginPath();
    ctx.arc(p.x, p.y, 7 * s, 0, Math.PI * 2);
    ctx.fillStyle = p.label ? "#2ec27e" : "#ff5d5d";
    ctx.fill();
    ctx.lineWidth = 2.5 * s;
    ctx.strokeStyle = "white";
    ctx.stroke();
  }
  if (drag) box(drag, true);
}

// ---- Layout --------------------------------------------------------------------------------------------------
function fitStage() {
  if (!state.id) return;
  const stage = $("stage");
  const availW = stage.clientWidth - 36, availH = stage.clientHeight - 36;
  const scale = Math.min(availW / state.width, availH / state.height);
  const wrap = $("canvas-wrap");
  wrap.style.width = `${Math.floor(state.width * scale)}px`;
  wrap.style.height = `${Math.floor(state.height * scale)}px`;
  canvases.photo.style.width = "100%";
  canvases.photo.style.height = "100%";
}
window.addEventListener("resize", fitStage);

// ---- Server --------------------------------------------------------------------------------------------------
async function api(path, options) {
  const res = await fetch(path, options);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return res;
}

let toastTimer = 0;
function toast(message) {
  const t = $("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

function setBusy(on, text) {
  state.busy = on;
  $("busy").hidden = !on;
  if (text) $("busy-text").textContent = text;
}

async function openFile(file) {
  if (!file || state.busy) return;
  setBusy(true, `Segmenting ${file.name}…`);
  const url = URL.createObjectURL(file);
  try {
    if (state.id) api(`/v1/images/${state.id}`, { method: "DELETE" }).catch(() => {});
    const form = new FormData();
    form.append("file", file, file.name);
    const t0 = performance.now();
    const data = await (await api("/v1/images", { method: "POST", body: form })).json();
    const photo = await loadImage(url);
    Object.assign(state, { id: data.id, name: file.name, width: data.width, height: data.height,
      annotations: data.annotations, prompts: [], selection: null, candidates: null, candidatesKey: "" });
    for (const c of Object.values(canvases)) { c.width = data.width; c.height = data.height; }
    canvases.photo.getContext("2d").drawImage(photo, 0, 0, data.width, data.height);
    $("stage").classList.remove("empty");
    $("canvas-wrap").hidden = false;
    fitStage();
    drawAllMasks();
    updatePanel();
    if (smooth()) await reloadAnnotations();
    showLatency(`segmented in ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    toast(`Upload failed: ${e.message}`);
  } finally {
    URL.revokeObjectURL(url);
    setBusy(false);
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    // EXIF-rotated photos: the server's pixels are already upright, and so are the browser's.
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot display this image"));
    img.src = url;
  });
}

const smooth = () => $("smooth").checked;
const texts = () => state.prompts.filter((p) => p.kind === "text").map((p) => p.text);

// The select request for the current prompts and options (see /openapi.json, SelectRequest).
function selectBody() {
  const points = [], labels = [], boxes = [];
  for (const p of state.prompts) {
    if (p.kind === "point") { points.push([p.x, p.y]); labels.push(p.label); }
    if (p.kind === "box") boxes.push(p.box);
  }
  const body = { points, labels, boxes, texts: texts() };
  if ($("per-point").checked && points.length) body.point_mode = "per_point";
  if ($("text-all").checked && body.texts.length) body.text_threshold = Number($("text-threshold").value);
  if (smooth()) body.smooth = true;
  return body;
}

function postSelect(body) {
  return api(`/v1/images/${state.id}/select`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  }).then((res) => res.json());
}

let selectSeq = 0;
// `takeBack`: the last prompt caused this refresh, and is removed again if the server refuses it.
async function refreshSelection(takeBack = false) {
  const seq = ++selectSeq;
  if (!state.prompts.length) {
    state.selection = null;
    drawSelection();
    updatePanel();
    return;
  }
  try {
    const t0 = performance.now();
    await refreshCandidates();
    const data = await postSelect(selectBody());
    if (seq !== selectSeq) return; // a newer prompt already answered
    state.selection = data;
    drawSelection();
    updatePanel();
    showLatency(`select ${data.latency_ms.toFixed(data.latency_ms < 1 ? 2 : 1)} ms · on screen in ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    if (seq !== selectSeq) return;
    toast(e.message);
    if (!takeBack) return;
    // Keep the UI truthful: a refused prompt (e.g. text without CLIP) is taken back.
    state.prompts.pop();
    drawPrompts();
    updatePanel();
  }
}

// With "every match" on: every candidate's score for the current phrases (threshold -1 keeps them all), fetched
// once per phrase list, so the slider can show where each mask sits and how many a threshold keeps.
async function refreshCandidates() {
  const phrases = texts();
  const key = $("text-all").checked && phrases.length ? JSON.stringify([phrases, smooth()]) : "";
  if (key === state.candidatesKey) return;
  state.candidatesKey = key;
  state.candidates = null;
  if (key) {
    const all = await postSelect({ texts: phrases, text_threshold: -1, smooth: smooth() });
    if (state.candidatesKey !== key) return;
    state.candidates = all.annotations.map((a) => a.text_score);
    if (!state.candidates.length) { $("text-ticks").innerHTML = ""; updateThreshold(); return; }
    // The slider spans the scores, a little either side, so every step between two masks is reachable.
    const lo = Math.min(...state.candidates), hi = Math.max(...state.candidates);
    const slider = $("text-threshold");
    slider.min = (Math.floor(lo * 100) / 100 - 0.01).toFixed(3);
    slider.max = (Math.ceil(hi * 100) / 100 + 0.01).toFixed(3);
    const ticks = $("text-ticks");
    ticks.innerHTML = "";
    for (const score of state.candidates) {
      const t = document.createElement("span");
      t.style.left = `${(100 * (score - slider.min)) / (slider.max - slider.min)}%`;
      t.dataset.score = String(score);
      ticks.appendChild(t);
    }
  }
  updateThreshold();
}

// The slider's label, and which candidates it keeps: live, before the server answers.
function updateThreshold() {
  const on = $("text-all").checked;
  $("threshold").hidden = !on;
  const t = Number($("text-threshold").value);
  $("text-threshold-value").textContent = t.toFixed(3);
  for (const tick of $("text-ticks").children) tick.classList.toggle("on", Number(tick.dataset.score) >= t);
  const c = state.candidates;
  $("threshold-info").textContent = !c ? "Add a text prompt to see its scores."
    : `${c.filter((s) => s >= t).length} of ${c.length} candidate masks at or above ${t.toFixed(3)}`;
}

// Smoothing changes every mask: the masks shown, the candidates' crops and so the selection.
async function reloadAnnotations() {
  if (!state.id) return;
  const data = await (await api(`/v1/images/${state.id}/annotations?smooth=${smooth()}`)).json();
  if (data.smooth !== smooth()) return; // toggled again meanwhile
  state.annotations = data.annotations;
  drawAllMasks();
  await refreshSelection();
}

function showLatency(text) {
  const l = $("latency");
  l.textContent = text;
  l.hidden = false;
}

// ---- Panel ---------------------------------------------------------------------------------------------------
function updatePanel() {
  const has = !!state.id;
  $("mask-count").textContent = String(state.annotations.length);
  $("image-info").textContent = has ? `${state.name} · ${state.width}×${state.height}` : "No image yet.";
  for (const id of ["text", "text-add"]) $(id).disabled = !has;
  $("undo").disabled = !state.prompts.length;
  $("clear").disabled = !state.prompts.length;
  const sel = state.selection;
  const n = sel ? sel.annotations.length : 0;
  const box = $("selection");
  box.dataset.count = String(n);
  box.classList.toggle("active", n > 0);
  if (!sel) {
    box.textContent = has ? "Click an object to select it." : "Nothing selected.";
  } else if (!n) {
    box.textContent = "No mask matches these prompts.";
  } else {
    const best = Math.max(...sel.annotations.map((a) => a.score));
    const area = sel.annotations.reduce((s, a) => s + a.area, 0);
    const clip = sel.annotations.filter((a) => a.text_score !== undefined).map((a) => a.text_score.toFixed(3));
    const clicks = sel.annotations.filter((a) => a.point_index !== undefined).map((a) => a.point_index + 1);
    box.innerHTML = `<b>${n}</b> mask${n > 1 ? "s" : ""} selected · score <span class="score">${best.toFixed(3)}</span>` +
      `<div class="muted">${area.toLocaleString()} px · indices ${sel.indices.join(", ") || "merged"}</div>` +
      (clip.length ? `<div class="muted" id="text-scores">CLIP ${clip.join(", ")}</div>` : "") +
      (clicks.length ? `<div class="muted" id="click-objects">objects of clicks ${clicks.join(", ")}</div>` : "");
  }
  $("dl-cutout").disabled = !(sel && sel.indices.length);
  $("dl-json").disabled = !has;
  const list = $("prompt-list");
  list.innerHTML = "";
  for (const p of state.prompts) {
    const li = document.createElement("li");
    if (p.kind === "point") { li.className = p.label ? "fg" : "bg"; li.textContent = `${p.label ? "+" : "−"} ${Math.round(p.x)}, ${Math.round(p.y)}`; }
    if (p.kind === "box") { li.className = "box"; li.textContent = `▭ ${p.box.map(Math.round).join(", ")}`; }
    if (p.kind === "text") { li.textContent = `“${p.text}”`; }
    list.appendChild(li);
  }
}

function addPrompt(p) {
  state.prompts.push(p);
  drawPrompts();
  updatePanel();
  refreshSelection(true);
}

// ---- Input ---------------------------------------------------------------------------------------------------
function toImage(e) {
  const r = canvases.ui.getBoundingClientRect();
  return [(e.clientX - r.left) * state.width / r.width, (e.clientY - r.top) * state.height / r.height];
}

let press = null;
canvases.ui.addEventListener("contextmenu", (e) => e.preventDefault());
canvases.ui.addEventListener("pointerdown", (e) => {
  if (!state.id || state.busy) return;
  canvases.ui.setPointerCapture(e.pointerId);
  press = { x: e.clientX, y: e.clientY, at: toImage(e), button: e.button, shift: e.shiftKey, dragging: false };
});
canvases.ui.addEventListener("pointermove", (e) => {
  if (!press) return;
  if (!press.dragging && Math.hypot(e.clientX - press.x, e.clientY - press.y) > 6) press.dragging = true;
  if (press.dragging) drawPrompts(boxFrom(press.at, toImage(e)));
});
canvases.ui.addEventListener("pointerup", (e) => {
  if (!press) return;
  const p = press;
  press = null;
  if (p.dragging) {
    addPrompt({ kind: "box", box: boxFrom(p.at, toImage(e)) });
  } else {
    const background = p.shift || p.button === 2;
    addPrompt({ kind: "point", x: p.at[0], y: p.at[1], label: background ? 0 : 1 });
  }
});

function boxFrom(a, b) {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

$("undo").addEventListener("click", () => { state.prompts.pop(); drawPrompts(); updatePanel(); refreshSelection(); });
$("clear").addEventListener("click", () => { state.prompts = []; drawPrompts(); updatePanel(); refreshSelection(); });
document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement) return;
  if ((e.ctrlKey || e.metaKey) && e.key === "z") $("undo").click();
  if (e.key === "Escape") $("clear").click();
});
$("text-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text || !state.id) return;
  $("text").value = "";
  addPrompt({ kind: "text", text });
});
$("per-point").addEventListener("change", () => refreshSelection());
$("text-all").addEventListener("change", () => { updateThreshold(); refreshSelection(); });
$("text-threshold").addEventListener("input", () => { updateThreshold(); refreshSelection(); });
$("smooth").addEventListener("change", () => reloadAnnotations().catch((e) => toast(e.message)));
$("show-masks").addEventListener("change", (e) => { canvases.masks.hidden = !e.target.checked; });
for (const id of ["file", "file2"]) $(id).addEventListener("change", (e) => { openFile(e.target.files[0]); e.target.value = ""; });

const stage = $("stage");
stage.addEventListener("dragover", (e) => { e.preventDefault(); stage.classList.add("dragging"); });
stage.addEventListener("dragleave", (e) => { if (e.target === stage || e.target.id === "drop") stage.classList.remove("dragging"); });
stage.addEventListener("drop", (e) => {
  e.preventDefault();
  stage.classList.remove("dragging");
  openFile(e.dataTransfer.files[0]);
});

// ---- Downloads -----------------------------------------------------------------------------------------------
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
const stem = () => state.name.replace(/\.[^.]+$/, "") || "image";

$("dl-cutout").addEventListener("click", async () => {
  try {
    const res = await api(`/v1/images/${state.id}/cutout.png?ids=${state.selection.indices.join(",")}&smooth=${smooth()}`);
    download(await res.blob(), `${stem()}-cutout.png`);
  } catch (e) { toast(e.message); }
});
$("dl-json").addEventListener("click", () => {
  const annotations = state.selection ? state.selection.annotations : state.annotations;
  const doc = { image: { file_name: state.name, width: state.width, height: state.height }, annotations };
  download(new Blob([JSON.stringify(doc)], { type: "application/json" }), `${stem()}.json`);
});

updatePanel();
// Text options only where text prompts work.
api("/healthz").then((r) => r.json()).then((h) => {
  if (h.text_prompts) return;
  $("text-all").disabled = true;
  $("text-all").parentElement.title = "Text prompts need a CLIP model: start the server with --clip";
}).catch(() => {});

// Whether a layer has any visible pixel (used by the browser test, handy in the console).
function canvasHasInk(id) {
  const c = canvases[id];
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i]) return true;
  return false;
}
