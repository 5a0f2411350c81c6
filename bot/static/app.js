// The TNaaS playground: talks to /api/v1 only; renders with textContent (never innerHTML).
"use strict";

const $ = (selector) => document.querySelector(selector);
const POLL_TRIES = 40; // an answer still queued is polled at most this many times
const POLL_MS = 500;
const RETRIES = 3; // a dropped connection or a 503 (restarting, busy) is retried this many times

function clientId() { // who asked (impressions' requested_by); votes count under the cookie
  let id = localStorage.getItem("tnaas-voter");
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(12)); // works on plain http too, unlike randomUUID
    id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem("tnaas-voter", id);
  }
  return id;
}
const client = clientId();

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

function newKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// One request, retried under the same idempotency key when the connection drops or the server says
// 503 (a restart, a Redis blip): a retry gets the answer of the first try, never a second job.
async function send(path, init) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(`/api/v1${path}`, init);
    } catch (err) {
      if (attempt >= RETRIES) throw new Error("The server cannot be reached: try again in a moment.");
      await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
      continue;
    }
    if (response.status !== 503 || attempt >= RETRIES) return response;
    const wait = Math.min(10, Number(response.headers.get("Retry-After")) || 2);
    await new Promise((resolve) => setTimeout(resolve, 1000 * wait));
  }
}

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = sessionStorage.getItem("tnaas-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Idempotency-Key"] = newKey();
  const response = await send(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch { /* an empty or non-JSON body: handled below */ }
  if (response.status === 401) $("#token-form").hidden = false;
  if (!response.ok) throw new Error(data.error || `The server answered ${response.status}.`);
  return { status: response.status, data };
}

async function answer(path, body) {
  let { status, data } = await api(path, body);
  for (let i = 0; status === 202 && i < POLL_TRIES; i++) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    ({ status, data } = await api(data.poll.replace("/api/v1", "")));
  }
  if (status === 202) throw new Error("Still working on it: try again in a moment.");
  return data;
}

async function busy(button, work) {
  showError("");
  button.disabled = true;
  try { await work(); } catch (err) { showError(err.message); } finally { button.disabled = false; }
}

// -- pickers ---------------------------------------------------------------------------------------
let corpora = [];

async function loadCorpora() {
  const { data } = await api("/corpora");
  corpora = data.filter((c) => c.models.length);
  const select = $("#corpus");
  select.replaceChildren(...corpora.map((c) => new Option(`${c.name} (${c.names.toLocaleString()} names)`, c.name)));
  fillModels();
}

function fillModels() {
  const corpus = corpora.find((c) => c.name === $("#corpus").value);
  const select = $("#model");
  select.replaceChildren(new Option("best by votes", ""), ...(corpus ? corpus.models.map((m) => new Option(m, m)) : []));
}

// -- names -----------------------------------------------------------------------------------------
function renderNames(data) {
  const reply = data.names;
  const list = $("#names");
  list.replaceChildren();
  const what = reply.pattern
    ? `completions of ${reply.pattern}`
    : reply.like ? `${reply.corpus} names like ${reply.like}` : `${reply.free ? "free " : ""}${reply.corpus} names`;
  const chosen = reply.model_chosen_by === "bandit" ? " (picked by votes)" : "";
  $("#names-status").textContent = (reply.candidates.length
    ? `${reply.candidates.length} ${what} from ${reply.model}${chosen}. Vote with the arrows.`
    : "No names found for that.") + (reply.note ? ` ${reply.note}` : "");
  reply.candidates.forEach((candidate, i) => {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = candidate.name;
    item.append(name);
    if (candidate.known) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "already exists";
      item.append(badge);
    }
    for (const [registry, mark] of Object.entries(candidate.availability || {})) {
      const badge = document.createElement("span");
      badge.className = `badge mark ${mark.verdict.replace(" ", "-")}`;
      badge.textContent = `${registry === "pypi" ? "PyPI" : registry} ${mark.verdict}`;
      if (mark.reason) badge.title = mark.reason;
      item.append(badge);
    }
    for (const [direction, cls] of [[1, "up"], [-1, "down"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `vote ${cls}`;
      button.dataset.direction = String(direction);
      setVoteLabel(button, 0);
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-label", `${cls === "up" ? "Like" : "Dislike"} ${candidate.name}`);
      button.addEventListener("click", () => busy(button, () => vote(data.answer_id, i + 1, direction, button)));
      item.append(button);
    }
    list.append(item);
  });
}

async function vote(answerId, index, direction, button) {
  const added = button.getAttribute("aria-pressed") !== "true";
  // Who votes is the signed cookie this page got with it, not anything the page says.
  const { data } = await api("/votes", { answer_id: answerId, index, direction, added });
  button.setAttribute("aria-pressed", String(added));
  setVoteLabel(button, direction === 1 ? data.up : data.down);
}

// An arrow drawn as SVG (no emoji font needed), then the vote count.
function setVoteLabel(button, count) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 20 20");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", button.dataset.direction === "1" ? "M4 13 L10 6 L16 13" : "M4 7 L10 14 L16 7");
  svg.append(path);
  const text = document.createElement("span");
  text.className = "count";
  text.textContent = count ? String(count) : "";
  button.replaceChildren(svg, text);
}

// -- sounds like -----------------------------------------------------------------------------------
function renderSounds(answer) {
  const box = $("#sounds");
  box.replaceChildren();
  const line = (text) => { const p = document.createElement("p"); p.textContent = text; box.append(p); return p; };
  line(`“${answer.text}”`).className = "asked";
  if (answer.real_in.length) line(`${answer.text} is a real name in: ${answer.real_in.join(", ")}.`);
  if (answer.verdict) line(`Pokemon or tech? ${answer.verdict.name} ${Math.round(answer.verdict.probability * 100)}%`);
  const bars = (title, scores) => {
    if (!scores.length) return;
    line(title).className = "label";
    for (const s of scores) {
      const row = document.createElement("div");
      row.className = "bar";
      const label = document.createElement("span");
      label.textContent = s.name;
      const meter = document.createElement("meter");
      meter.min = 0; meter.max = 1; meter.value = s.probability;
      meter.setAttribute("aria-label", `${s.name} ${Math.round(s.probability * 100)}%`);
      const pct = document.createElement("span");
      pct.textContent = `${Math.round(s.probability * 100)}%`;
      row.append(label, meter, pct);
      box.append(row);
    }
  };
  bars("Sounds like", answer.corpora);
  if (answer.language !== "unknown") bars("Language", answer.languages);
  answer.notes.forEach((note) => line(note));
}

// -- wiring ----------------------------------------------------------------------------------------
$("#corpus").addEventListener("change", fillModels);
$("#generate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#go"), async () => {
    const body = { corpus: $("#corpus").value, n: Number($("#n").value) || 5, free: $("#free").checked, client };
    if ($("#model").value) body.model = $("#model").value;
    renderNames(await answer("/generate", body));
  });
});
$("#like-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#like-go"), async () => {
    const body = { name: $("#like").value, corpus: $("#corpus").value, n: Number($("#n").value) || 5, free: $("#free").checked, client };
    if ($("#model").value) body.model = $("#model").value;
    renderNames(await answer("/like", body));
  });
});
$("#complete-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#complete"), async () => {
    const body = { pattern: $("#pattern").value, corpus: $("#corpus").value, n: Number($("#n").value) || 5, client };
    if ($("#model").value) body.model = $("#model").value;
    renderNames(await answer("/complete", body));
  });
});
$("#detect-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#detect"), async () => renderSounds((await answer("/detect", { text: $("#text").value, client })).sounds_like));
});
$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("tnaas-token", $("#token").value);
  $("#token-form").hidden = true;
  busy($("#go"), loadCorpora);
});

busy($("#go"), loadCorpora);
