// The dashboard: plain JavaScript against the JSON API and the event stream.
// The token lives in an HttpOnly cookie set by /login; this code never sees it.
"use strict";

const $ = (id) => document.getElementById(id);
const jobs = new Map();
let workers = [];
let source = null;

function size(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (n < 0 ? "-" : "") + v.toFixed(i ? 1 : 0) + " " + units[i];
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function button(row, label, job, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.job = job.id;
  b.className = action;
  b.addEventListener("click", () => act(job.id, action));
  row.insertCell().appendChild(b);
}

async function api(path, options) {
  const reply = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (reply.status === 401) { showLogin(); throw new Error("not logged in"); }
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error ? body.error.message : reply.statusText);
  return body;
}

async function act(id, action) {
  $("message").textContent = "";
  try {
    const job = await api(`/api/v1/jobs/${id}/${action}`, { method: "POST" });
    jobs.set(job.id, job);
    render();
  } catch (e) { $("message").textContent = e.message; }
}

function render() {
  const all = [...jobs.values()].sort((a, b) => b.id - a.id);
  const body = (id) => { const t = $(id).tBodies[0]; t.replaceChildren(); return t; };
  const running = body("running"), queued = body("queued"), failed = body("failed"), history = body("history");
  for (const job of all) {
    if (job.status === "running") {
      const row = running.insertRow(); row.id = `running-${job.id}`;
      cell(row, job.id); cell(row, job.input, "path"); cell(row, job.preset);
      const bar = document.createElement("progress");
      bar.max = 1; bar.value = job.progress; bar.dataset.job = job.id;
      const td = row.insertCell(); td.appendChild(bar);
      td.append(` ${Math.round(job.progress * 100)}%`);
      button(row, "Cancel", job, "cancel");
    } else if (job.status === "queued") {
      const row = queued.insertRow(); row.id = `queued-${job.id}`;
      cell(row, job.id); cell(row, job.input, "path"); cell(row, job.preset); cell(row, job.priority);
      button(row, "Cancel", job, "cancel");
    } else if (job.status === "failed" || job.status === "cancelled") {
      const row = failed.insertRow(); row.id = `failed-${job.id}`;
      cell(row, job.id); cell(row, job.input, "path"); cell(row, job.preset);
      const reason = cell(row, job.error || job.status, "reason");
      if (job.log_tail) {
        const details = document.createElement("details");
        const summary = document.createElement("summary"); summary.textContent = "ffmpeg log";
        const pre = document.createElement("pre"); pre.textContent = job.log_tail;
        details.append(summary, pre); reason.appendChild(details);
      }
      button(row, "Retry", job, "retry");
    }
    if (job.status !== "queued" && job.status !== "running") {
      const row = history.insertRow();
      const out = job.outputs.reduce((n, o) => n + (o.size || 0), 0);
      cell(row, job.id); cell(row, job.input, "path"); cell(row, job.status);
      cell(row, size(job.input_size));
      cell(row, job.outputs.length ? size(out) : "");
      cell(row, job.status === "succeeded" && job.input_size ? size(job.input_size - out) : "");
    }
  }
  const wt = body("workers");
  for (const w of workers) {
    const row = wt.insertRow();
    cell(row, w.id); cell(row, w.intake ? `${w.state}, ${w.intake}` : w.state); cell(row, `${w.heartbeat_age} s ago`);
    cell(row, w.jobs.map((j) => j.id).join(", "));
  }
}

async function loadStats() {
  const s = await api("/api/v1/stats");
  $("totals").textContent = `${s.by_status.succeeded} done · ${s.by_status.failed} failed · ` +
    `${size(s.space_saved)} saved`;
}

async function load() {
  const page = await api("/api/v1/jobs?limit=200");
  jobs.clear();
  for (const job of page.jobs) jobs.set(job.id, job);
  workers = await api("/api/v1/workers");
  render();
  await loadStats();
  return page.cursor;
}

function listen(after) {
  if (source) source.close();
  // From the moment the listing was read, so no change in between is lost; the
  // browser resends the last event id itself when it reconnects.
  source = new EventSource(`/api/v1/events?after=${encodeURIComponent(after)}`);
  const update = (e) => { const job = JSON.parse(e.data); jobs.set(job.id, job); render(); };
  for (const kind of ["job", "progress", "end"]) source.addEventListener(kind, update);
  source.addEventListener("end", () => loadStats().catch(() => {}));
}

function showLogin() {
  if (source) { source.close(); source = null; }
  $("board").hidden = true; $("logout").hidden = true; $("login").hidden = false;
}

async function showBoard() {
  $("login").hidden = true; $("board").hidden = false; $("logout").hidden = false;
  listen(await load());
  setInterval(() => api("/api/v1/workers").then((w) => { workers = w; render(); }).catch(() => {}), 2000);
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  const reply = await fetch("/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  $("token").value = "";
  if (reply.ok) { await showBoard(); return; }
  const body = await reply.json();
  $("login-error").textContent = body.error.message;
});

$("logout").addEventListener("click", async () => {
  await fetch("/logout", { method: "POST" });
  showLogin();
});

showBoard().catch(() => showLogin());
