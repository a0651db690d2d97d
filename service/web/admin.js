// The admin page: fleet, tasks and logs from the service's JSON API.
// Every value from the API is inserted as text (textContent), never as HTML.
"use strict";

const REFRESH_MS = 3000;
const PAGE = 100;
const state = { token: sessionStorage.getItem("sorawm_admin_token") || "", logCursor: null,
  tail: null, taskCursor: null, maxLogId: 0 };

// ------------------------------------------------------------------ helpers

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) tr.appendChild(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

function td(child, className) {
  const cell = el("td", null, className);
  if (child instanceof Node) cell.appendChild(child); else cell.textContent = child ?? "";
  return cell;
}

function badge(text, className) { return el("span", text, "badge " + className); }

function shortId(id) { return id ? id.slice(0, 8) : ""; }

function time(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : ""; }

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return Math.round(seconds) + " s ago";
  if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

function setStatus(text) { document.getElementById("status").textContent = text || ""; }

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

async function api(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401 || response.status === 403) {
    setStatus(response.status === 401 ? "An admin token is needed." : "This token is not an admin's.");
    throw new Error("not allowed");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    setStatus("Error: " + detail);
    throw new Error(detail);
  }
  setStatus("");
  return response.json();
}

// ------------------------------------------------------------------ fleet

async function loadFleet() {
  const executors = await api("/api/executors");
  const body = document.getElementById("fleet-rows");
  const ids = document.getElementById("executor-ids");
  body.replaceChildren();
  ids.replaceChildren();
  let online = 0;
  for (const ex of executors) {
    const cooling = ex.cooldown_until && Date.parse(ex.cooldown_until) > Date.now();
    const stateName = !ex.online ? "offline" : ex.busy ? "busy" : cooling ? "cooling" : "online";
    if (ex.online) online += 1;
    const caps = ex.capabilities || {};
    const progress = ex.current_progress === null || ex.current_progress === undefined
      ? "" : Math.round(ex.current_progress) + " %";
    const state = badge(cooling ? "cooling down" : stateName, "state-" + stateName);
    if (ex.faults) {
      // why it cools down, or last did: its own faults (disk, memory, device), in a row
      state.title = `${ex.faults} executor fault(s) in a row; last: ${ex.last_fault || "?"}` +
        (cooling ? `; no task before ${time(ex.cooldown_until)} UTC` : "");
    }
    const tr = row([
      td(ex.id, "mono"), td(state),
      td(shortId(ex.current_task_id), "mono"), td(progress), td(ago(ex.last_seen)),
      td(caps.device), td(caps.gpu_name), td(caps.vram_mb ? caps.vram_mb + " MB" : ""),
      td(caps.engine_version), td(ex.done), td(ex.failed),
    ]);
    tr.dataset.executor = ex.id;
    tr.dataset.state = stateName;
    body.appendChild(tr);
    const option = document.createElement("option");
    option.value = ex.id;
    ids.appendChild(option);
  }
  document.getElementById("fleet-summary").textContent =
    `${online} online of ${executors.length}`;
}

// ------------------------------------------------------------------ tasks

async function loadTasks(append) {
  const status = document.getElementById("task-status").value;
  const params = new URLSearchParams({ limit: "50" });
  if (status) params.set("status", status);
  if (append && state.taskCursor) params.set("cursor", state.taskCursor);
  const page = await api("/api/tasks?" + params);
  const body = document.getElementById("task-rows");
  if (!append) body.replaceChildren();
  for (const task of page.items) {
    const bar = el("progress");
    bar.max = 100;
    bar.value = task.progress;
    bar.title = Math.round(task.progress) + " %";
    const logs = el("a", "logs");
    logs.href = "#logs";
    logs.addEventListener("click", () => filterLogsByTask(task.id));
    const tr = row([
      td(shortId(task.id), "mono"), td(task.input ? task.input.filename : ""),
      td(badge(task.status, "status-" + task.status)), td(bar), td(task.stage),
      td(`${task.attempts}/${task.max_attempts}`), td(task.executor_id, "mono"),
      td(task.error, "error"), td(time(task.created_at)), td(logs),
    ]);
    tr.dataset.task = task.id;
    tr.title = task.id;
    body.appendChild(tr);
  }
  state.taskCursor = page.next_cursor;
  document.getElementById("tasks-more").hidden = !page.next_cursor;
}

// ------------------------------------------------------------------ logs

function logFilters() {
  const form = document.getElementById("log-filters");
  const params = new URLSearchParams();
  for (const name of ["executor_id", "task_id", "level", "q"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["since", "until"]) {
    const value = form.elements[name].value;
    if (value) params.set(name, value + (value.length === 16 ? ":00" : "") + "Z");
  }
  return params;
}

function logRow(record) {
  const tr = row([
    td(time(record.ts), "mono"), td(record.level, "level-" + record.level),
    td(record.source), td(record.executor_id, "mono"), td(shortId(record.task_id), "mono"),
    td(record.message, "message"),
  ]);
  tr.dataset.id = record.id;
  tr.dataset.level = record.level;
  return tr;
}

async function loadLogs(cursor) {
  const params = logFilters();
  params.set("limit", String(PAGE));
  if (cursor) params.set("cursor", cursor);
  const page = await api("/api/admin/logs?" + params);
  const body = document.getElementById("log-rows");
  body.replaceChildren(...page.items.map(logRow));
  state.logCursor = page.next_cursor;
  document.getElementById("logs-older").disabled = !page.next_cursor;
  if (!cursor && page.items.length) state.maxLogId = page.items[0].id;
}

function filterLogsByTask(taskId) {
  const form = document.getElementById("log-filters");
  form.reset();
  form.elements.task_id.value = taskId;
  applyFilters();
}

function applyFilters() {
  loadLogs(null).then(() => { if (state.tail) startTail(); }).catch(() => {});
}

async function startTail() {
  stopTail();
  const controller = new AbortController();
  state.tail = controller;
  const params = logFilters();
  if (state.maxLogId) params.set("after", String(state.maxLogId));
  try {
    await readEvents("/api/admin/logs/stream?" + params, headers(), onTailEvent, controller.signal);
  } catch (error) {
    if (error.name !== "AbortError") setStatus("Live tail stopped: " + error.message);
  }
}

function onTailEvent(name, data) {
  if (name !== "log") return;
  const record = JSON.parse(data);
  state.maxLogId = Math.max(state.maxLogId, record.id);
  const body = document.getElementById("log-rows");
  const tr = logRow(record);
  tr.classList.add("fresh");
  body.insertBefore(tr, body.firstChild);
  while (body.children.length > 500) body.removeChild(body.lastChild);
}

function stopTail() {
  if (state.tail) state.tail.abort();
  state.tail = null;
}

// ------------------------------------------------------------------ wiring

function refresh() {
  loadFleet().catch(() => {});
  loadTasks(false).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("token").value = state.token;
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = document.getElementById("token").value.trim();
    sessionStorage.setItem("sorawm_admin_token", state.token);
    refresh();
    applyFilters();
  });
  document.getElementById("task-status").addEventListener("change", () => loadTasks(false).catch(() => {}));
  document.getElementById("tasks-more").addEventListener("click", () => loadTasks(true).catch(() => {}));
  const filters = document.getElementById("log-filters");
  filters.addEventListener("submit", (event) => { event.preventDefault(); applyFilters(); });
  filters.addEventListener("reset", () => setTimeout(applyFilters, 0));
  document.getElementById("live").addEventListener("change", (event) => {
    if (event.target.checked) startTail(); else stopTail();
  });
  document.getElementById("logs-older").addEventListener("click", () => {
    loadLogs(state.logCursor).catch(() => {});
  });
  document.getElementById("logs-newest").addEventListener("click", () => applyFilters());
  refresh();
  applyFilters();
  setInterval(refresh, REFRESH_MS);
});
