// The upload page: send videos, follow each task live, offer the cleaned video.
// Every value from the API is inserted as text (textContent), never as HTML.
"use strict";

const token = () => sessionStorage.getItem("sorawm_token") || "";
const authHeaders = () => (token() ? { Authorization: "Bearer " + token() } : {});

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function sizeText(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
  return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
}

function jobCard(file) {
  const card = el("div", null, "job");
  const name = el("span", file.name, "name");
  const badgeNode = el("span", "UPLOADING", "badge status-UPLOADING");
  const bar = el("progress");
  bar.max = 100;
  bar.value = 0;
  const line = el("span", "uploading 0 of " + sizeText(file.size), "line");
  card.append(name, badgeNode, bar, line);
  document.getElementById("jobs").prepend(card);
  return {
    card, bar, line,
    status(text) { badgeNode.textContent = text; badgeNode.className = "badge status-" + text; },
    problem(text) {
      const p = el("span", text, "problem");
      card.appendChild(p);
    },
  };
}

// crypto.randomUUID exists only in secure contexts; plain http on a LAN is not one
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// XMLHttpRequest, because fetch cannot report upload progress
function upload(file, job) {
  return new Promise((resolve) => {
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/tasks");
    for (const [key, value] of Object.entries(authHeaders())) xhr.setRequestHeader(key, value);
    // one key per file: a resend of it gets the first task back, not a second one
    job.key = job.key || idempotencyKey();
    xhr.setRequestHeader("Idempotency-Key", job.key);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      job.bar.value = (100 * event.loaded) / event.total;
      job.line.textContent = `uploading ${sizeText(event.loaded)} of ${sizeText(event.total)}`;
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 201 && body) { resolve(body); return; }
      job.status("ERROR");
      job.line.textContent = "not uploaded";
      job.problem((body && body.detail) || `the service answered ${xhr.status}`);
      resolve(null);
    };
    xhr.onerror = () => {
      job.status("ERROR");
      job.problem("the upload was cut off: is the service running?");
      resolve(null);
    };
    xhr.send(form);
  });
}

function show(job, task) {
  job.status(task.status);
  job.bar.value = task.progress;
  const parts = [task.status === "QUEUED" ? "waiting for an executor" : `${Math.round(task.progress)} %`];
  if (task.stage && task.status === "PROCESSING") parts.push(task.stage);
  if (task.executor_id) parts.push("on " + task.executor_id);
  job.line.textContent = parts.join(" · ");
  if (task.status === "ERROR" || task.status === "CANCELLED") {
    job.problem(task.error || "the task was cancelled");
  }
  if (task.status === "FINISHED") offerDownload(job, task);
}

// The download goes through fetch (so a token can be sent) and is handed to the browser.
function offerDownload(job, task) {
  const link = el("a", "Download the cleaned video", "download");
  const stem = task.input ? task.input.filename.replace(/\.[^.]+$/, "") : task.id;
  link.href = "#";
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    const response = await fetch(`/api/tasks/${task.id}/result`, { headers: authHeaders() });
    if (!response.ok) { job.problem(`download failed: ${response.status}`); return; }
    const url = URL.createObjectURL(await response.blob());
    const save = el("a");
    save.href = url;
    save.download = stem + ".cleaned.mp4";
    document.body.appendChild(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  });
  job.card.appendChild(link);
}

async function follow(job, taskId) {
  let last = null;
  try {
    await readEvents(`/api/tasks/${taskId}/events`, authHeaders(), (name, data) => {
      if (name !== "task") return;
      last = JSON.parse(data);
      show(job, last);
    });
  } catch (error) {
    job.problem("lost track of the task: " + error.message);
  }
  return last;
}

async function send(files) {
  for (const file of files) {
    const job = jobCard(file);
    upload(file, job).then((task) => { if (task) { show(job, task); follow(job, task.id); } });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const drop = document.getElementById("drop");
  const input = document.getElementById("files");
  document.getElementById("token").value = token();
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("sorawm_token", document.getElementById("token").value.trim());
    document.getElementById("status").textContent = "token saved for this tab";
  });
  input.addEventListener("change", () => { send([...input.files]); input.value = ""; });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    send([...event.dataTransfer.files]);
  });
});
