// page.js -- the page's own thread: the form, the progress bar, the download. It never blocks:
// every run happens in the orchestrator Worker (orchestrator.js), which owns the engine.
//
// Automation (tests, bench/web.py): with URL parameters the page runs without a click and
// posts its result to the server, e.g.
//   ?src=/files/NAME&level=6&threads=2&blocksize=128&post=/results/OUT          (compress)
//   ?src=/files/NAME&engine=libdeflate&bgzf=1&post=/results/OUT                  (BGZF, as --bgzf)
//   ?src=/files/NAME.gz&op=decompress&post=/results/OUT                          (decompress)
// With no blocksize the engine's own default is used (wpigz/sandbox/engines.py), as the command does.
// On failure it posts the error text to OUT.error; after a success it also posts OUT.json
// (bytes in and out; milliseconds inside the Worker, for the run and
// for the set-up before it: module compile, memory, thread Workers). A URL input is compressed as
// `wpigz -n -c` does (no name, time 0); a picked file gets its name and time, as `wpigz -c FILE`.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let worker = null;
let picked = null;
let running = false;
let engines = null;         // /engines.json: wpigz/sandbox/engines.py's table

function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// pigz's decompressed name: the compressed suffix removed, .tgz becoming .tar (files.py)
function decompressedName(name) {
  for (const suffix of [".zip", ".ZIP", ".tgz", ".gz", "-gz", ".zz", "-zz", ".z", "-z", "_z", ".Z"])
    if (name.endsWith(suffix) && name.length > suffix.length)
      return name.slice(0, -suffix.length) + (suffix === ".tgz" ? ".tar" : "");
  return name + ".out";
}

function isolationProblem() {
  if (!window.crossOriginIsolated) {
    return "This page is not cross-origin isolated, so the browser refuses it the shared memory " +
      "the engine's threads need (SharedArrayBuffer). Serve it with `python -m wpigz.web`, which " +
      "sends Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, " +
      "and open it from http://127.0.0.1 or http://localhost (or https).";
  }
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined")
    return "This browser has no SharedArrayBuffer or Atomics: the engine's threads cannot run here.";
  if (typeof WebAssembly === "undefined") return "This browser has no WebAssembly.";
  return null;
}

function newWorker() {
  if (worker) worker.terminate();     // also ends the thread Workers it made
  worker = new Worker("orchestrator.js");
}

function run(job) {
  return new Promise((resolve) => {
    if (!worker) newWorker();
    running = true;
    $("start").disabled = true;
    $("cancel").disabled = false;
    $("problem").textContent = $("warning").textContent = $("result").textContent = "";
    const began = performance.now();
    $("bar").removeAttribute("value");            // indeterminate until the size is known
    worker.onmessage = (event) => {
      const m = event.data;
      if (m.type === "progress") {
        const seconds = (performance.now() - began) / 1000;
        if (m.total) $("bar").value = m.read / m.total;
        const ratio = m.read ? ` -- ratio ${(m.written / m.read * 100).toFixed(1)}%` : "";
        $("stats").textContent = `${formatBytes(m.read)}${m.total ? " of " + formatBytes(m.total) : ""} in, ` +
          `${formatBytes(m.written)} out, ${(m.read / 1048576 / Math.max(seconds, 1e-3)).toFixed(1)} MiB/s${ratio}`;
        return;
      }
      running = false;
      $("start").disabled = !picked;
      $("cancel").disabled = true;
      resolve(m);
    };
    worker.onerror = (event) => {
      running = false;
      resolve({ type: "error", message: `wpigz: ${event.message || "the worker failed"}` });
    };
    worker.postMessage(job);
  });
}

function showResult(job, m) {
  if (m.type === "error") {
    $("bar").value = 0;
    $("problem").textContent = m.message;
    document.title = "wpigz: error";
    return;
  }
  $("bar").value = 1;
  const rate = m.read / 1048576 / Math.max(m.ms / 1000, 1e-3);
  const ratio = job.op === "compress" ? m.written / Math.max(m.read, 1) : m.read / Math.max(m.written, 1);
  $("stats").textContent = `${formatBytes(m.read)} in, ${formatBytes(m.written)} out in ` +
    `${(m.ms / 1000).toFixed(2)} s: ${rate.toFixed(1)} MiB/s, ratio ${(ratio * 100).toFixed(1)}%` +
    (job.op === "compress" ? ` (level ${job.level}, ${job.threads} thread${job.threads > 1 ? "s" : ""})` : ` (${m.form})`);
  if (m.warnings && m.warnings.length) $("warning").textContent = m.warnings.map((w) => `wpigz: ${job.label}: ${w}`).join("\n");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(m.blob);
  link.download = job.output;
  link.textContent = `Download ${job.output} (${formatBytes(m.written)})`;
  $("result").replaceChildren(link);
  $("about").textContent = `zlib ${m.zlib} in WebAssembly, ${crossOriginIsolated ? "cross-origin isolated" : ""}`;
  document.title = "wpigz: done";
}

function formJob() {
  const op = document.querySelector("input[name=op]:checked").value;
  return {
    op,
    file: picked,
    label: picked.name,
    name: picked.name,                                // stored, as `wpigz -c FILE`
    mtime: fileTime(picked),
    output: op === "compress" ? picked.name + ".gz" : decompressedName(picked.name),
    ...settings(),
  };
}

// the file's time for the gzip header: whole seconds; outside the 32-bit field it is 0 (cli.py)
function fileTime(file) {
  const seconds = Math.floor(file.lastModified / 1000);
  return seconds >= 0 && seconds < 2 ** 32 ? seconds : 0;
}

function settings() {
  const bgzf = $("bgzf").checked;
  return {
    level: Number($("level").value),
    threads: Number($("threads").value),
    blocksize: bgzf ? null : Number($("blocksize").value) * 1024,      // BGZF's members are 64 KiB
    engine: $("engine").value || "zlib",
    bgzf,
  };
}

// the form shows the chosen engine's own default block size (wpigz/sandbox/engines.py), as the command uses
function showDefaultBlocksize() {
  const info = engines && engines.engines[$("engine").value];
  if (info) $("blocksize").value = info.blocksize / 1024;
}

function pick(file) {
  picked = file;
  if (/\.(gz|tgz|zz|z|Z|zip|ZIP)$|[-_]z$|-gz$/.test(file.name))
    document.querySelector("input[name=op][value=decompress]").checked = true;
  else
    document.querySelector("input[name=op][value=compress]").checked = true;
  $("start").disabled = running;
  $("stats").textContent = `${file.name}: ${formatBytes(file.size)}`;
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", body });
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status}`);
}

// ?src=... runs at once, without a click, and posts what it got
async function automatic() {
  const src = params.get("src");
  const op = params.get("op") === "decompress" ? "decompress" : "compress";
  const target = params.get("post");
  const name = decodeURIComponent(src.split("?")[0].split("/").pop());
  $("level").value = params.get("level") || "6";
  if (params.get("threads")) $("threads").value = params.get("threads");
  if (params.get("blocksize")) $("blocksize").value = params.get("blocksize");
  document.querySelector(`input[name=op][value=${op}]`).checked = true;
  // the parameters themselves, not the form's reading of them: a bad value must be refused,
  // not replaced by whatever the form holds
  const number = (key, otherwise) => (params.has(key) ? Number(params.get(key)) : otherwise);
  const bgzf = params.has("bgzf");          // as --bgzf, whose default engine is libdeflate
  const job = { op, url: src, label: name, name: null, mtime: 0,            // as `wpigz -n -c`
                output: op === "compress" ? name + ".gz" : decompressedName(name), ...settings(),
                engine: params.get("engine") || (bgzf ? "libdeflate" : engines.default),
                level: number("level", 6), threads: number("threads", settings().threads),
                blocksize: params.has("blocksize") ? number("blocksize") * 1024 : null, bgzf };
  $("stats").textContent = `${src}`;
  const m = await run(job);
  showResult(job, m);
  if (!target) return;
  if (m.type === "error") await post(target + ".error", m.message);
  else {
    await post(target, m.blob);
    await post(target + ".json", JSON.stringify({ read: m.read, written: m.written, ms: m.ms, setupMs: m.setupMs, warnings: m.warnings,
                                                  threads: job.threads, level: job.level, op }));
  }
}

// the engines (from wpigz/sandbox/engines.py, via the server) whose layout the Worker can run (as
// orchestrator.js's LAYOUTS: one stream, or indexed members)
async function listEngines() {
  engines = await (await fetch("engines.json")).json();
  for (const [name, info] of Object.entries(engines.engines)) {
    if (!["stream", "members"].includes(info.layout)) continue;
    const option = new Option(name, name, false, name === engines.default);
    option.title = info.summary;
    $("engine").add(option);
  }
  showDefaultBlocksize();
  $("engine").addEventListener("change", showDefaultBlocksize);
}

async function init() {
  for (let level = 0; level <= 9; level++) $("level").add(new Option(String(level), String(level), false, level === 6));
  $("threads").value = navigator.hardwareConcurrency || 1;
  const problem = isolationProblem();
  if (problem) {
    $("isolation").textContent = problem;
    $("isolation").className = "bad";
    document.title = "wpigz: not isolated";
    if (params.get("post")) post(params.get("post") + ".error", `wpigz: ${problem}`);
    return;
  }
  $("isolation").textContent = `Cross-origin isolated: shared memory is available; ` +
    `${navigator.hardwareConcurrency || 1} hardware threads.`;
  // the controls work from here on, before the engine list arrives: a file picked while
  // engines.json is on its way must not be lost (the form's default engine is zlib)
  $("file").addEventListener("change", () => { if ($("file").files.length) pick($("file").files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) pick(e.dataTransfer.files[0]);
  });
  $("start").addEventListener("click", async () => {
    const job = formJob();
    showResult(job, await run(job));
  });
  $("cancel").addEventListener("click", () => {
    newWorker();            // stopping the Worker stops its threads with it
    running = false;
    $("cancel").disabled = true;
    $("start").disabled = !picked;
    $("problem").textContent = "cancelled";
  });
  await listEngines();
  document.documentElement.dataset.ready = "yes";     // for scripts driving the page (tests)
  if (params.get("src")) automatic().catch((error) => { $("problem").textContent = String(error); });
}

init().catch((error) => { $("problem").textContent = `wpigz: ${error.message || error}`; });
