// restore ui: the page. A mask painter on two canvases (image, mask) at the image's own
// resolution, zoomed and panned with a CSS transform; the controls of each task built from
// its declaration (/api/tasks); jobs through /api/jobs, polled for their progress.
"use strict";

const $ = (id) => document.getElementById(id);
const stage = $("stage"), layers = $("layers"), imgC = $("img"), maskC = $("mask"), cursor = $("cursor");
const exclC = $("excl");
const imgX = imgC.getContext("2d"), maskX = maskC.getContext("2d"), exclX = exclC.getContext("2d");
const MASK_COLOR = "rgb(255,0,40)", EXCL_COLOR = "rgb(30,110,255)";
// the painted layers: the holes (the task's MASK) and, for inpaint, the pixels never copied from (--exclude)
const LAYERS = { mask: { c: maskC, x: maskX, color: MASK_COLOR }, excl: { c: exclC, x: exclX, color: EXCL_COLOR } };
const layerOf = (op) => LAYERS[op.layer || "mask"];
const MIN_ZOOM = 0.01, MAX_ZOOM = 32;

const S = {
  tasks: [], limits: {}, image: null, ops: [], tool: "brush", size: 40, layer: "mask",
  view: { s: 1, tx: 0, ty: 0 }, active: new Set(), latest: null, drawing: null, pan: null, space: false,
  started: {}, submitting: false, viewing: null, pinch: null,
  kc: [0, 0],  // the keyboard's brush position, in image pixels
  paramFiles: {},  // parameter -> { name, data }: an image file a text field also takes (deblur's kernel)
  made: new Map(),  // job id -> { body, image, tried }: what made it (Another fill sends it again, seeds tried)
};
const resultEl = $("result"), splitLine = $("splitline");

// -- messages ---------------------------------------------------------------------------
function say(text, ok = false) {
  $("message").textContent = text || "";
  // a done job's warnings and notes (its result card says it is done): not in an error's colour, nor a
  // success's (a run that left the image as it is was said in green)
  $("message").className = ok ? "note" : "";
}

async function api(path, opts = {}) {
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    throw new Error("the server does not answer (is `restore ui` still running?)");
  }
  const type = r.headers.get("content-type") || "";
  const body = type.includes("json") ? await r.json() : null;
  if (!r.ok) throw new Error((body && body.error) || `HTTP ${r.status}`);
  return body;
}

// -- tasks and their parameters ------------------------------------------------------------
function task() { return S.tasks.find((t) => t.name === $("task").value); }

function fileDataURL(file) {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(fr.result);
    fr.onerror = () => reject(new Error(`${file.name}: could not be read`));
    fr.readAsDataURL(file);
  });
}

function uploadBeside(p, input) {  // "or an image file": deblur's kernel as the command line takes kernel.png
  const box = document.createElement("div");
  box.className = "paramfile";
  const pick = document.createElement("input");
  pick.type = "file";
  pick.accept = "image/*";
  pick.title = `or an image of the ${p.name} (light on black)`;
  const clear = document.createElement("button");
  clear.type = "button";
  clear.textContent = "×";
  clear.title = `drop the uploaded ${p.name}`;
  clear.hidden = true;
  const hint = input.placeholder;
  const reset = () => {
    delete S.paramFiles[p.name];
    pick.value = "";
    input.disabled = false;
    input.placeholder = hint;
    clear.hidden = true;
  };
  pick.addEventListener("change", async (e) => {
    const f = e.target.files[0];
    if (!f) { reset(); return; }
    try {
      S.paramFiles[p.name] = { name: f.name, data: await fileDataURL(f) };
    } catch (err) { reset(); say(err.message); return; }
    input.value = "";
    input.disabled = true;
    input.placeholder = `uploaded: ${f.name}`;
    clear.hidden = false;
  });
  clear.onclick = reset;
  const what = document.createElement("span");
  what.textContent = "or an image file:";
  box.append(what, pick, clear);
  return box;
}

function buildParams() {
  const t = task(), form = $("params");
  form.textContent = "";
  S.paramFiles = {};
  $("tasksummary").textContent = t.summary + (t.files.includes("mask") ? " — paint the pixels to fill" : "");
  for (const p of t.params) {
    if (p.kind === "file") continue;  // files come only as uploads: the command line's option
    const label = document.createElement("label");
    let input;
    if (p.kind === "switch") {
      label.className = "switch";
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = !!p.default;
    } else if (p.kind === "choice") {
      input = document.createElement("select");
      if (p.default === null) input.add(new Option("default", ""));  // left to the task (e.g. sr's kernel by file type)
      for (const c of p.choices) input.add(new Option(c, c));
      if (p.default !== null) input.value = String(p.default);
    } else {
      input = document.createElement("input");
      if (p.kind === "int" || p.kind === "float") {
        input.type = "number";
        input.step = p.kind === "int" ? "1" : "any";
        if (p.range) { input.min = p.range[0]; input.max = p.range[1]; }
      } else {
        input.type = "text";
      }
      input.value = p.default === null ? "" : String(p.default);
      input.placeholder = p.required ? "required" : (p.default === null ? "auto" : "");
    }
    input.name = p.name;
    input.dataset.kind = p.kind;
    input.title = p.help;
    const name = document.createElement("span");
    name.textContent = p.option.replace(/^--/, "") + (p.required ? " *" : "");
    if (p.kind === "switch") { label.append(input, name); } else { label.append(name, input); }
    const help = document.createElement("span");
    help.className = "help";
    help.textContent = p.help;
    help.id = `help-${p.name}`;
    input.setAttribute("aria-describedby", help.id);  // read with the field, not as a text node apart
    const wrap = document.createElement("div");
    wrap.append(label);
    if (p.upload) wrap.append(uploadBeside(p, input));
    wrap.append(help);
    form.append(wrap);
  }
  const excl = t.params.some((p) => p.kind === "file" && p.name === "exclude");
  $("layerpick").hidden = !excl;
  if (!excl) setLayer("mask");
  const sel = $("sampler");
  sel.textContent = "";
  sel.add(new Option(`default (${t.default_sampler})`, ""));
  for (const s of t.samplers) sel.add(new Option(s, s));
  $("steps").placeholder = `default (${t.default_steps})`;
  // a sampler chosen: its own default steps (the placeholder kept the task's sampler's, 1 beside ddrm's 20)
  sel.onchange = () => {
    $("steps").placeholder = `default (${sel.value ? t.sampler_steps[sel.value] : t.default_steps})`;
  };
  $("samplernote").textContent = t.default_note ? `default: ${t.default_sampler}, ${t.default_note}` : "";
}

function numberOf(el, label) {
  // an entry the browser cannot read as a number ("1e") has value "": refused, not taken as empty
  if (el.validity && el.validity.badInput) throw new Error(`${label}: not a number`);
  return el.value === "" ? null : Number(el.value);
}

function paramValues() {
  const t = task(), out = {};
  for (const p of t.params) {
    if (p.kind === "file") continue;
    const el = $("params").elements[p.name];
    let v;
    if (p.kind === "switch") v = el.checked;
    else if (p.kind === "int" || p.kind === "float") v = numberOf(el, p.option.replace(/^--/, ""));
    else v = el.value === "" ? null : el.value;
    const d = p.kind === "switch" ? !!p.default : p.default;
    if (v !== d && !(v !== null && d !== null && String(v) === String(d))) out[p.name] = v;
  }
  return out;
}

// -- the image and the view -------------------------------------------------------------------
function applyView() {
  const v = S.view;
  layers.style.transform = `translate(${v.tx}px, ${v.ty}px) scale(${v.s})`;
  $("zoomval").textContent = `${Math.round(v.s * 100)} %`;
  if (S.viewing) splitLine.style.left = `${v.tx + ($("split").value / 100) * S.image.width * v.s - 1}px`;
}

// -- a result over the image, at the editor's zoom: before (left of the line) | after ----------------
function sameFile(a, b) {  // the image a result was made of, open again (a new upload of the same file)
  return a === b || (!!a && !!b && !!a.file && !!b.file && a.file.name === b.file.name && a.file.size === b.file.size
    && a.file.lastModified === b.file.lastModified && a.width === b.width && a.height === b.height);
}

function viewResult(job, image) {
  if (!sameFile(image, S.image)) {  // another image is open: its canvas is not this result's "before"
    say(`this result is of ${job.summary.image}: open that image again to view it in the editor`);
    return;
  }
  S.viewing = job.id;
  resultEl.onerror = () => { if (S.viewing === job.id) { closeView(); say(`${job.summary.image}: the result is no longer on the server`); } };
  resultEl.src = `/api/jobs/${job.id}/preview.png`;
  // the image's own size: an sr result, larger, is shown over it at its full resolution when zoomed in
  resultEl.style.width = `${S.image.width}px`; resultEl.style.height = `${S.image.height}px`;
  resultEl.hidden = splitLine.hidden = $("viewbar").hidden = false;
  maskC.style.visibility = exclC.style.visibility = "hidden";
  $("viewname").textContent = `${job.task}: before | after`;
  cursor.style.display = "none";
  stage.style.cursor = "grab";
  setSplit();
  $("editor").scrollIntoView({ block: "nearest" });  // the card's button is below the editor: its tools in sight
  $("split").focus({ preventScroll: true });  // the keyboard moves the split at once; Esc goes back
}

function closeView() {
  if (!S.viewing) return;
  if (document.activeElement === $("split")) document.activeElement.blur();
  S.viewing = null;
  resultEl.hidden = splitLine.hidden = $("viewbar").hidden = true;
  resultEl.removeAttribute("src");
  maskC.style.visibility = exclC.style.visibility = "";
  setTool(S.tool);
}

function setSplit() {
  resultEl.style.clipPath = `inset(0 0 0 ${$("split").value}%)`;
  applyView();
}

function fit() {
  if (!S.image) return;
  const r = stage.getBoundingClientRect(), w = S.image.width, h = S.image.height;
  const s = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min(r.width / w, r.height / h) * 0.98));
  S.view = { s, tx: (r.width - w * s) / 2, ty: (r.height - h * s) / 2 };
  applyView();
}

function zoomAt(factor, mx, my) {
  const v = S.view, s = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.s * factor));
  const px = (mx - v.tx) / v.s, py = (my - v.ty) / v.s;
  S.view = { s, tx: mx - px * s, ty: my - py * s };
  applyView();
}

function toImage(e) {
  const r = stage.getBoundingClientRect(), v = S.view;
  return [(e.clientX - r.left - v.tx) / v.s, (e.clientY - r.top - v.ty) / v.s];
}

async function openFile(file) {
  if (!file) return;
  // asked only where something is painted (a trial was asked after it had cleared the mask), naming what is
  const lost = S.image ? [["mask", "the painted mask"], ["excl", "the Keep out layer"]]
    .filter(([layer]) => painted(layer)).map(([, words]) => words) : [];
  if (lost.length && !window.confirm(`Open ${file.name}? ${lost.join(" and ")} of ${S.image.name} `
      + `${lost.length > 1 ? "are" : "is"} cleared.`)) return;
  if (S.limits.max_bytes && file.size > S.limits.max_bytes) {
    say(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB is over the upload limit of ${(S.limits.max_bytes / 1e6).toFixed(1)} MB`);
    return;
  }
  say("");
  $("imginfo").textContent = `reading ${file.name}…`;
  let info, preview;
  try {
    info = await upload(file);
    // the preview kept in the page: result cards compare against it after the server has dropped the upload
    const r = await fetch(`/api/images/${info.id}/preview.png`);
    if (!r.ok) throw new Error(`${file.name}: the preview did not load (HTTP ${r.status})`);
    preview = URL.createObjectURL(await r.blob());
  } catch (e) {
    say(e.message);
    $("imginfo").textContent = S.image ? describeImage(S.image) : "no image";
    return;
  }
  const el = new Image();
  el.onload = () => {
    closeView();
    S.image = { ...info, el, preview, file };
    for (const c of [imgC, maskC, exclC]) { c.width = info.width; c.height = info.height; }
    imgX.clearRect(0, 0, info.width, info.height);
    imgX.drawImage(el, 0, 0);
    S.ops = [];
    replay();
    $("drop").style.display = "none";
    $("alpha").disabled = !info.has_alpha;
    $("run").disabled = false;
    $("imginfo").textContent = describeImage(S.image);
    S.kc = [info.width / 2, info.height / 2];
    stageLabel();
    if (!S.active.size) { $("status").textContent = ""; $("progress").value = 0; }  // the last image's "done in N s"
    if (info.frames > 1) {  // said as it opens, not after a run
      say(`${info.name}: ${info.frames} frames or pages (an animation, a multi-page TIFF): only the first is restored`, true);
    }
    fit();
  };
  el.onerror = () => say(`${info.name}: the browser could not show its preview`);
  el.src = preview;
}

function upload(file) {
  return api("/api/images", { method: "POST", body: file,
    headers: { "X-Filename": encodeURIComponent(file.name), "Content-Type": "application/octet-stream" } });
}

function describeImage(im) {
  const bits = im.dtype === "uint16" ? "16-bit" : "8-bit";
  return `${im.name}: ${im.width}×${im.height}, ${bits}${im.has_alpha ? ", with alpha" : ""}`;
}

// -- the mask: an operation log, replayed for undo ----------------------------------------------
let scratch = null;
function scratchCanvas() {
  if (!scratch || scratch.width !== maskC.width || scratch.height !== maskC.height) {
    scratch = document.createElement("canvas");
    scratch.width = maskC.width; scratch.height = maskC.height;
  }
  const x = scratch.getContext("2d");
  x.globalCompositeOperation = "source-over";
  x.clearRect(0, 0, scratch.width, scratch.height);
  return [scratch, x];
}

function strokeSegment(op, a, b) {
  const L = layerOf(op), x = L.x;
  x.globalCompositeOperation = op.mode === "erase" ? "destination-out" : "source-over";
  x.strokeStyle = x.fillStyle = L.color;
  x.lineWidth = op.size; x.lineCap = "round"; x.lineJoin = "round";
  if (!b) { x.beginPath(); x.arc(a[0], a[1], op.size / 2, 0, 2 * Math.PI); x.fill(); return; }
  x.beginPath(); x.moveTo(a[0], a[1]); x.lineTo(b[0], b[1]); x.stroke();
}

function applyOp(op) {
  const W = maskC.width, H = maskC.height, L = layerOf(op);
  if (op.type === "stroke") {
    strokeSegment(op, op.pts[0]);
    for (let i = 1; i < op.pts.length; i++) strokeSegment(op, op.pts[i - 1], op.pts[i]);
  } else if (op.type === "clear") {
    L.x.clearRect(0, 0, W, H);
  } else if (op.type === "alpha") {
    // the fully transparent pixels (alpha 0), as the command line's --mask alpha takes them
    const [c, x] = scratchCanvas();
    x.drawImage(S.image.el, 0, 0);
    const d = x.getImageData(0, 0, W, H), px = d.data;
    for (let i = 0; i < px.length; i += 4) {
      const hole = px[i + 3] === 0;
      px[i] = 255; px[i + 1] = 0; px[i + 2] = 40; px[i + 3] = hole ? 255 : 0;
    }
    x.putImageData(d, 0, 0);
    maskX.globalCompositeOperation = "source-over";
    maskX.drawImage(c, 0, 0);
  } else if (op.type === "invert") {
    const [c, x] = scratchCanvas();
    x.fillStyle = L.color; x.fillRect(0, 0, W, H);
    x.globalCompositeOperation = "destination-out";
    x.drawImage(L.c, 0, 0);
    L.x.clearRect(0, 0, W, H);
    L.x.globalCompositeOperation = "source-over";
    L.x.drawImage(c, 0, 0);
  }
  L.x.globalCompositeOperation = "source-over";
}

function replay() {
  for (const L of Object.values(LAYERS)) L.x.clearRect(0, 0, L.c.width, L.c.height);
  for (const op of S.ops) applyOp(op);
}

function painted(layer) {
  // whether the layer marks any pixel as the mask file will (its alpha at half or more): painted,
  // then cleared or erased, it marks none, and "paint the mask first" is the answer, not the server's
  if (!S.ops.some((op) => (op.layer || "mask") === layer)) return false;
  const L = LAYERS[layer], px = L.x.getImageData(0, 0, L.c.width, L.c.height).data;
  for (let i = 3; i < px.length; i += 4) if (px[i] >= 128) return true;
  return false;
}

function press(el, on) {  // a tool's state, seen (its class) and told (a screen reader, forced colours)
  el.classList.toggle("active", on);
  el.setAttribute("aria-pressed", on ? "true" : "false");
}

function setLayer(l) {
  S.layer = l;
  press($("layer-mask"), l === "mask");
  press($("layer-excl"), l === "excl");
}

function stageLabel() {  // what a screen reader says of the editor (a trial: the canvases had no name)
  if (!S.image) { stage.setAttribute("aria-label", "no image open"); return; }
  const n = S.ops.length;
  stage.setAttribute("aria-label", `${describeImage(S.image)}; ${n ? `${n} edit${n > 1 ? "s" : ""} to the painted `
    + "layers" : "nothing painted"}; brush at ${Math.round(S.kc[0])}, ${Math.round(S.kc[1])}`);
}

function pushOp(op) { if (S.image) { closeView(); S.ops.push(op); applyOp(op); stageLabel(); } }  // shown as it changes

function maskDataURL(layer = maskC) {
  // white = marked on black, as mask files are: the painted alpha (>= half: marked) in white
  return new Promise((resolve) => {
    const [c, x] = scratchCanvas();
    x.drawImage(layer, 0, 0);
    x.globalCompositeOperation = "source-in";
    x.fillStyle = "#fff"; x.fillRect(0, 0, c.width, c.height);
    x.globalCompositeOperation = "destination-over";
    x.fillStyle = "#000"; x.fillRect(0, 0, c.width, c.height);
    c.toBlob((blob) => {
      const fr = new FileReader();
      fr.onload = () => resolve(fr.result);
      fr.readAsDataURL(blob);
    }, "image/png");
  });
}

// -- pointer: paint, erase, pan ------------------------------------------------------------------
function setTool(t) {
  S.tool = t;
  for (const b of ["brush", "eraser", "hand"]) press($(b), b === t);
  stage.style.cursor = t === "hand" || S.viewing ? "grab" : "none";
}

function showCursor(e) {
  if (!S.image || S.tool === "hand" || S.space || S.viewing) { cursor.style.display = "none"; return; }
  const r = stage.getBoundingClientRect(), d = S.size * S.view.s;
  Object.assign(cursor.style, { display: "block", width: `${d}px`, height: `${d}px`,
    left: `${e.clientX - r.left - d / 2}px`, top: `${e.clientY - r.top - d / 2}px` });
}

// two fingers on a touch screen zoom and pan (a trial: a pinch painted two strokes); a stroke the first
// finger began is taken back, and painting waits until every finger is lifted
const touches = new Map();  // pointerId -> [clientX, clientY]

function pinchState() {
  const [a, b] = [...touches.values()], r = stage.getBoundingClientRect();
  return { d: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1,
           mx: (a[0] + b[0]) / 2 - r.left, my: (a[1] + b[1]) / 2 - r.top };
}

stage.addEventListener("pointerdown", (e) => {
  if (!S.image) return;
  stage.setPointerCapture(e.pointerId);
  if (e.pointerType === "touch") {
    touches.set(e.pointerId, [e.clientX, e.clientY]);
    if (touches.size >= 2) {
      if (S.drawing) { S.ops.splice(S.ops.indexOf(S.drawing), 1); S.drawing = null; replay(); stageLabel(); }
      S.pan = null;
      S.pinch = { ...pinchState(), view: { ...S.view } };
      return;
    }
    if (S.pinch) return;  // a finger put down again before all were lifted: no stroke
  }
  if (S.tool === "hand" || S.space || S.viewing || e.button === 1 || e.button === 2) {  // viewing: a drag pans
    S.pan = { x: e.clientX, y: e.clientY, tx: S.view.tx, ty: S.view.ty };
    stage.style.cursor = "grabbing";
    return;
  }
  if (e.button !== 0) return;
  const op = { type: "stroke", mode: S.tool === "eraser" ? "erase" : "paint", size: S.size, pts: [toImage(e)],
               layer: S.layer };
  S.ops.push(op);
  S.drawing = op;
  strokeSegment(op, op.pts[0]);
  layerOf(op).x.globalCompositeOperation = "source-over";
});

stage.addEventListener("pointermove", (e) => {
  if (e.pointerType === "touch" && touches.has(e.pointerId)) touches.set(e.pointerId, [e.clientX, e.clientY]);
  if (S.pinch) {
    if (touches.size < 2) return;
    const p = S.pinch, now = pinchState(), v0 = p.view;
    const s = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v0.s * now.d / p.d));
    const ix = (p.mx - v0.tx) / v0.s, iy = (p.my - v0.ty) / v0.s;  // the image point under the fingers stays there
    S.view = { s, tx: now.mx - ix * s, ty: now.my - iy * s };
    applyView();
    return;
  }
  showCursor(e);
  if (S.pan) {
    S.view.tx = S.pan.tx + e.clientX - S.pan.x;
    S.view.ty = S.pan.ty + e.clientY - S.pan.y;
    applyView();
    return;
  }
  if (!S.drawing) return;
  const evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of evs.length ? evs : [e]) {
    const p = toImage(ev), pts = S.drawing.pts;
    strokeSegment(S.drawing, pts[pts.length - 1], p);
    pts.push(p);
  }
  layerOf(S.drawing).x.globalCompositeOperation = "source-over";
});

function endPointer(e) {
  if (e && e.pointerType === "touch") {
    touches.delete(e.pointerId);
    if (S.pinch) { if (!touches.size) S.pinch = null; return; }
  }
  if (S.drawing) stageLabel();
  S.drawing = null;
  if (S.pan) { S.pan = null; if (S.viewing) stage.style.cursor = "grab"; else setTool(S.tool); }
}
stage.addEventListener("pointerup", endPointer);
stage.addEventListener("pointercancel", endPointer);
stage.addEventListener("pointerleave", () => { cursor.style.display = "none"; });
stage.addEventListener("contextmenu", (e) => e.preventDefault());
stage.addEventListener("wheel", (e) => {
  e.preventDefault();
  const r = stage.getBoundingClientRect();
  zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  showCursor(e);
}, { passive: false });

// the keyboard on the focused editor (a trial: a mask could not be made without a pointer): the arrows move
// the brush, Enter paints a dot, Shift + arrow a line to where it goes (erases with the Eraser)
function showKeyCursor() {
  if (!S.image || S.viewing) { cursor.style.display = "none"; return; }
  const v = S.view, d = S.size * v.s;
  Object.assign(cursor.style, { display: "block", width: `${d}px`, height: `${d}px`,
    left: `${v.tx + S.kc[0] * v.s - d / 2}px`, top: `${v.ty + S.kc[1] * v.s - d / 2}px` });
}

stage.addEventListener("focus", () => { if (S.image && !S.viewing) { showKeyCursor(); stageLabel(); } });
stage.addEventListener("blur", () => { cursor.style.display = "none"; });
stage.addEventListener("keydown", (e) => {
  if (!S.image || S.viewing || e.target !== stage) return;
  const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const paint = S.tool === "hand" ? null : { type: "stroke", mode: S.tool === "eraser" ? "erase" : "paint",
                                            size: S.size, layer: S.layer };
  if (e.key in dirs) {
    e.preventDefault();
    const step = e.altKey ? 1 : Math.max(1, S.size / 2), [dx, dy] = dirs[e.key], from = [...S.kc];
    S.kc = [Math.min(S.image.width - 1, Math.max(0, from[0] + dx * step)),
            Math.min(S.image.height - 1, Math.max(0, from[1] + dy * step))];
    const moved = S.kc[0] !== from[0] || S.kc[1] !== from[1];  // (at the edge: no stroke of no length, a trial)
    if (e.shiftKey && paint && moved) pushOp({ ...paint, pts: [from, [...S.kc]] });
    else stageLabel();
    showKeyCursor();
  } else if (e.key === "Enter" && paint && !S.space) {  // (Space held pans: Enter painted beneath it)
    e.preventDefault();
    pushOp({ ...paint, pts: [[...S.kc]] });
    showKeyCursor();
  }
});

// -- drop and open ---------------------------------------------------------------------------
$("file").addEventListener("change", (e) => { openFile(e.target.files[0]); e.target.value = ""; });
$("open").onclick = () => $("file").click();  // a button: reached with Tab, pressed with Enter or Space
for (const ev of ["dragenter", "dragover"]) {
  document.addEventListener(ev, (e) => { e.preventDefault(); stage.classList.add("dragover"); });
}
document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) stage.classList.remove("dragover"); });
document.addEventListener("drop", (e) => {
  e.preventDefault();
  stage.classList.remove("dragover");
  if (e.dataTransfer.files.length) openFile(e.dataTransfer.files[0]);
});

// -- tools ---------------------------------------------------------------------------------------
$("brush").onclick = () => { closeView(); setTool("brush"); };  // painting again: the result view ends
$("eraser").onclick = () => { closeView(); setTool("eraser"); };
$("hand").onclick = () => setTool("hand");
$("size").oninput = (e) => { S.size = Number(e.target.value); $("sizeval").textContent = S.size; };
$("undo").onclick = () => { closeView(); S.ops.pop(); replay(); stageLabel(); };
$("clear").onclick = () => pushOp({ type: "clear", layer: S.layer });
$("invert").onclick = () => pushOp({ type: "invert", layer: S.layer });
$("layer-mask").onclick = () => setLayer("mask");
$("layer-excl").onclick = () => setLayer("excl");
$("alpha").onclick = () => pushOp({ type: "alpha" });
$("zoomin").onclick = () => { const r = stage.getBoundingClientRect(); zoomAt(1.25, r.width / 2, r.height / 2); };
$("zoomout").onclick = () => { const r = stage.getBoundingClientRect(); zoomAt(0.8, r.width / 2, r.height / 2); };
$("fit").onclick = fit;
$("split").oninput = setSplit;
$("closeview").onclick = closeView;
// the view's bar lies over the stage: its slider and button are used, not panned or zoomed through
for (const ev of ["pointerdown", "pointermove", "wheel"]) $("viewbar").addEventListener(ev, (e) => e.stopPropagation());
window.addEventListener("resize", fit);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && S.viewing) { closeView(); return; }  // from the split slider too
  if (["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
  // Space and Enter press a focused button (or open a summary); the shortcuts are for the canvas
  if ((e.key === " " || e.key === "Enter") && ["BUTTON", "SUMMARY", "A"].includes(e.target.tagName)) return;
  if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); $("undo").click(); return; }
  const k = { b: "brush", e: "eraser", h: "hand" }[e.key];
  if (k) { if (k !== "hand") closeView(); setTool(k); }
  else if (e.key === "+" || e.key === "=") $("zoomin").click();
  else if (e.key === "-") $("zoomout").click();
  else if (e.key === "0") fit();
  else if (e.key.toLowerCase() === "o" && !e.ctrlKey && !e.metaKey && !e.altKey) $("file").click();
  else if (e.key === " ") { S.space = true; stage.style.cursor = "grab"; e.preventDefault(); }
});
document.addEventListener("keyup", (e) => { if (e.key === " ") { S.space = false; setTool(S.tool); } });

// -- jobs ----------------------------------------------------------------------------------------
$("task").onchange = buildParams;

function refused(text) {  // a run the server or the page refused: no stale "done" above the message
  $("status").textContent = "";
  $("progress").value = 0;
  say(text);
}

$("run").onclick = async (ev) => {
  // a double click queues one job: its second click (detail 2) is ignored, as is any click while the
  // first is being sent (under load the first request could come back before the second click did)
  if (!S.image || S.submitting || (ev && ev.detail > 1)) return;
  S.submitting = true;
  try { await submit(); } finally { S.submitting = false; }
};

async function submit() {
  const t = task();
  let body;
  try {
    const seed = numberOf($("seed"), "seed");
    if (seed !== null && !(Number.isSafeInteger(seed) && seed >= 0)) {
      throw new Error(`seed: a whole number in 0-${Number.MAX_SAFE_INTEGER} in the page `
        + "(the command line's --seed takes larger ones)");
    }
    body = { image: S.image.id, task: t.name, params: paramValues(), sampler: $("sampler").value || null,
             steps: numberOf($("steps"), "steps"), seed: seed === null ? 0 : seed };
  } catch (e) { refused(e.message); return; }
  const maskOps = S.ops.filter((op) => (op.layer || "mask") === "mask");
  if (t.files.includes("mask") && maskOps.length === 1 && maskOps[0].type === "alpha"
      && t.params.some((p) => p.name === "mask_source") && !body.params.mask_source) {
    body.params.mask_source = "alpha";  // "Alpha → mask" untouched: the command line's --mask alpha, the same pixels
  } else if (t.files.includes("mask") && painted("mask")) body.mask = await maskDataURL(maskC);
  if (!$("layerpick").hidden && painted("excl")) body.exclude = await maskDataURL(exclC);
  const files = Object.keys(S.paramFiles).filter((n) => t.params.some((p) => p.name === n && p.upload));
  if (files.length) body.param_files = Object.fromEntries(files.map((n) => [n, S.paramFiles[n]]));
  await postJob(body, S.image, new Set([body.seed]));
  if (!t.files.includes("mask") && painted("mask")) {  // said, not dropped in silence
    const m = $("message"), note = `note: ${t.name} takes no mask: the painted one is not used`;
    const made = S.made.get(S.latest);
    if (made && made.body === body) made.note = note;  // said again with the job's own notes when it is done
    if (!m.textContent) say(note, true);
  }
}

async function postJob(body, image, tried) {  // a job queued: its request kept for Another fill
  say("");
  const post = () => api("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: JSON.stringify(body) });
  let job;
  try {
    job = await post();
  } catch (e) {
    if (!/no longer on the server/.test(e.message) || !image.file) { refused(e.message); return; }
    try {  // the server keeps the last uploads only: send the file again, the painted mask stays as it is
      image.id = (await upload(image.file)).id;
      body.image = image.id;
      job = await post();
    } catch (e2) { refused(e2.message); return; }
  }
  S.made.set(job.id, { body, image, tried });
  S.active.add(job.id);
  S.latest = job.id;
  cancelable(true);
  poll(job.id, image);
}

function cancelable(on) {
  // Cancel disabled while it has the focus dropped it to the page (a trial: the next Tab began at the top): Run has it
  const c = $("cancel");
  if (!on && document.activeElement === c) $("run").focus();
  c.disabled = !on;
}

$("cancel").onclick = async () => {
  // every job this page has queued or running, the running one included (it stops at its next step or tile)
  cancelable(false);
  $("status").textContent = "cancelling…";
  for (const id of [...S.active]) {
    try { await api(`/api/jobs/${id}/cancel`, { method: "POST" }); } catch (e) { say(e.message); serverGone(id); }
  }
};

function serverGone(id) {  // the job's state cannot be had (the server stopped, or dropped it): not shown as running
  S.active.delete(id);
  delete S.started[id];
  cancelable(S.active.size > 0);
  if (id === S.latest) { $("status").textContent = "stopped (see below)"; $("progress").value = 0; }
}

// a reload or a closed tab loses the painted mask and the results (and cancels the running job): asked first
window.addEventListener("beforeunload", (e) => {
  if (S.ops.length || S.active.size || $("results").children.length) { e.preventDefault(); e.returnValue = ""; }
});

window.addEventListener("pagehide", () => {
  for (const id of S.active) navigator.sendBeacon(`/api/jobs/${id}/cancel`);
});

async function poll(id, image) {
  let job;
  try { job = await api(`/api/jobs/${id}`); } catch (e) { say(e.message); serverGone(id); return; }
  if (id === S.latest) {
    const st = job.status;
    $("progress").max = job.n || 1;
    $("progress").value = st === "done" ? (job.n || 1) : job.i;
    $("progress").setAttribute("aria-valuetext", job.n ? `step ${$("progress").value} of ${job.n}` : st);
    if (st === "running" && !(id in S.started)) S.started[id] = performance.now();
    // the elapsed time, also while a step-less part runs (reading, a large photo's one evaluation)
    const secs = id in S.started ? ` · ${Math.round((performance.now() - S.started[id]) / 1000)} s` : "";
    const busy = st === "queued" || st === "running";
    if (!busy || !$("status").textContent.startsWith("cancelling")) {  // "cancelling…" stays until it ends
      $("status").textContent = st === "queued" ? `queued (${job.position} ahead)`
        : st === "running" ? (job.n ? `running: step ${job.i} of ${job.n}${secs}` : `running: preparing…${secs}`)
        : `${st}${job.seconds !== null ? ` in ${(job.seconds || 0).toFixed(1)} s` : ""}`;
    }
  }
  if (job.status === "queued" || job.status === "running") { setTimeout(() => poll(id, image), 250); return; }
  S.active.delete(id);
  delete S.started[id];
  cancelable(S.active.size > 0);
  if (job.status !== "done") S.made.delete(id);  // no card to draw another fill from
  if (job.status === "done") {
    addResult(job, image);
    say([(S.made.get(id) || {}).note, ...job.warnings].filter(Boolean).join("\n"), true);
  }
  else if (job.status === "error") say(job.message);
  else say(job.message || job.status);
}

function addResult(job, image) {
  const card = document.createElement("div");
  card.className = "card";
  card.dataset.job = job.id;
  const cmp = document.createElement("div");
  cmp.className = "cmp";
  const before = new Image(), after = new Image(), line = document.createElement("div");
  before.src = image.preview; before.className = "before"; before.alt = "before";
  after.src = `/api/jobs/${job.id}/preview.png`; after.className = "after"; after.alt = "after";
  line.className = "line";
  const tagB = document.createElement("span"), tagA = document.createElement("span");
  tagB.className = "tag before"; tagB.textContent = "before"; tagA.className = "tag after"; tagA.textContent = "after";
  tagB.setAttribute("aria-hidden", "true"); tagA.setAttribute("aria-hidden", "true");
  cmp.append(before, after, line, tagB, tagA);
  const slider = document.createElement("input");
  slider.type = "range"; slider.min = 0; slider.max = 100; slider.value = 50;
  slider.title = "before | after";
  slider.setAttribute("aria-label", `before | after: ${job.task} of ${job.summary.image}`);
  const set = () => {
    after.style.clipPath = `inset(0 0 0 ${slider.value}%)`; line.style.left = `${slider.value}%`;
    slider.setAttribute("aria-valuetext", `${slider.value} % before, ${100 - slider.value} % after`);
  };
  slider.oninput = set; set();
  // a drag across the picture moves the split (a trial: on a phone only the thin slider under it did)
  const drag = (e) => {
    const r = cmp.getBoundingClientRect();
    slider.value = Math.round(Math.min(100, Math.max(0, (e.clientX - r.left) / r.width * 100)));
    set();
  };
  cmp.addEventListener("pointerdown", (e) => { cmp.setPointerCapture(e.pointerId); cmp.dataset.drag = "1"; drag(e); });
  cmp.addEventListener("pointermove", (e) => { if (cmp.dataset.drag) drag(e); });
  for (const ev of ["pointerup", "pointercancel"]) cmp.addEventListener(ev, () => { delete cmp.dataset.drag; });
  const meta = document.createElement("div");
  meta.className = "meta";
  const extras = Object.entries(job.summary).filter(([k]) => !["task", "image"].includes(k))
    .map(([k, v]) => `${k}=${v}`).join(", ");
  meta.textContent = `${job.task} · ${job.summary.image} · ${job.width}×${job.height} · ${(job.seconds || 0).toFixed(1)} s`
    + (extras ? ` · ${extras}` : "");
  const actions = document.createElement("div");
  actions.className = "actions";
  const dl = document.createElement("a");
  dl.href = `/api/jobs/${job.id}/download`; dl.textContent = "Download PNG"; dl.className = "button download";
  dl.setAttribute("download", "");
  dl.setAttribute("role", "button");  // pressed with Space too, as the buttons beside it are (a link takes Enter)
  dl.addEventListener("keydown", (e) => { if (e.key === " ") { e.preventDefault(); dl.click(); } });
  dl.onclick = async (e) => {
    e.preventDefault();
    try { await api(`/api/jobs/${job.id}`); } catch (err) {
      say(`${job.summary.image}: ${err.message}`);
      dl.classList.add("gone"); dl.removeAttribute("href"); dl.textContent = "no longer on the server";
      return;
    }
    const a = document.createElement("a");  // a download link clicked, not a navigation ("leave the page?")
    a.href = `/api/jobs/${job.id}/download`; a.download = "";
    document.body.append(a); a.click(); a.remove();
  };
  const rm = document.createElement("button");
  rm.textContent = "Remove";
  rm.onclick = () => { if (S.viewing === job.id) closeView(); card.remove(); S.made.delete(job.id); };
  const full = document.createElement("a");  // the result at its own size, in a tab of its own (zoom, pan)
  full.href = `/api/jobs/${job.id}/preview.png`; full.target = "_blank"; full.rel = "noopener";
  full.className = "full"; full.textContent = "full size";
  const view = document.createElement("button");  // over the image in the editor: zoom and pan, before | after
  view.className = "view"; view.textContent = "View"; view.title = "Compare with the image in the editor, zoomed and panned";
  view.onclick = () => viewResult(job, image);
  actions.append(dl, full, view, rm);
  const made = S.made.get(job.id);
  if (made && String(job.summary.fill || "").includes("scene")) {
    // PatchMatch's search is seeded: this card's image, mask and settings again with a seed not yet tried
    // from them, another fill of the big holes to choose from (the editor and its seed field as they are)
    const again = document.createElement("button");
    again.className = "again"; again.textContent = "Another fill";
    again.title = "Run this result's image, mask and settings again with another seed: another fill of the big holes";
    again.onclick = async () => {
      if (S.submitting) return;
      const next = Math.max(...made.tried) + 1;
      made.tried.add(next);
      S.submitting = true;
      try { await postJob({ ...made.body, seed: next }, made.image, made.tried); } finally { S.submitting = false; }
    };
    actions.append(again);
  }
  card.append(cmp, slider, meta, actions);
  $("results").prepend(card);
}

// -- start ----------------------------------------------------------------------------------------
(async () => {
  try {
    const info = await api("/api/tasks");
    S.tasks = info.tasks;
    S.limits = info;
    for (const t of S.tasks) $("task").add(new Option(`${t.name} — ${t.summary}`, t.name));
    buildParams();
    $("prior").textContent = `prior: ${info.prior}` + (info.prior_error ? ` (${info.prior_error})` : "");
    if (info.prior_error) say(`the prior did not load: ${info.prior_error}`);
  } catch (e) { say(e.message); }
  setTool("brush");
})();

// for tests and scripts: image coordinates -> page coordinates
window.restoreUI = {
  state: S,
  toPage(x, y) {
    const r = stage.getBoundingClientRect(), v = S.view;
    return [r.left + v.tx + x * v.s, r.top + v.ty + y * v.s];
  },
};
