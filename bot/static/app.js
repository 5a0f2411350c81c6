// The TNaaS playground: talks to /api/v1 only; renders with textContent (never innerHTML).
"use strict";

const $ = (selector) => document.querySelector(selector);
const POLL_TRIES = 40; // an answer still queued is polled at most this many times
const POLL_MS = 500;
const RETRIES = 3; // a dropped connection or a 503 (restarting, busy) is retried this many times
const FLASH_MS = 2000; // how long a copy button says "Copied"

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

// -- errors, beside what caused them ---------------------------------------------------------------
function showError(box, message) {
  box.textContent = message;
  box.hidden = !message;
}

function clearErrors() {
  for (const box of document.querySelectorAll(".error")) showError(box, "");
}

// -- small helpers -----------------------------------------------------------------------------------
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function announce(message) { // for screen readers: what a button did
  $("#announce").textContent = message;
}

// Bring an answer into view when it is not whole on screen (on a phone it starts below the forms),
// scrolling no further than needed and without a glide for people who asked for less motion; a
// phone's keyboard is put away so the answer is not under it.
function reveal(element) {
  if (matchMedia("(pointer: coarse)").matches && document.activeElement?.matches("input")) document.activeElement.blur();
  const box = element.getBoundingClientRect();
  if (box.top >= 0 && box.bottom <= innerHeight) return;
  const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
  element.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
}

function flash(button, label) {
  button.dataset.label ||= button.textContent;
  button.textContent = label;
  button.classList.add("done");
  clearTimeout(button.flashTimer);
  button.flashTimer = setTimeout(() => {
    button.textContent = button.dataset.label;
    button.classList.remove("done");
  }, FLASH_MS);
}

// The clipboard where the browser offers it (https, localhost); elsewhere (plain http) the text is
// selected on the page and the browser's copy command tried; if that fails too, a name stays selected
// for the person to copy (``shown``: the element showing it), and a link is in the address bar anyway.
async function copy(text, button, shown) {
  try {
    await navigator.clipboard.writeText(text);
    flash(button, "Copied");
    announce(`Copied ${text}`);
    return;
  } catch { /* no clipboard here, or not allowed: fall back */ }
  const selection = getSelection();
  selection.removeAllRanges();
  const range = document.createRange();
  range.selectNodeContents(shown || offPage(text));
  selection.addRange(range);
  let copied = false;
  try { copied = document.execCommand("copy"); } catch { /* not supported */ }
  if (!shown) selection.removeAllRanges();
  const missed = shown ? "Selected" : "Copy it from the address bar";
  flash(button, copied ? "Copied" : missed);
  announce(copied ? `Copied ${text}` : shown ? `${text} is selected: copy it with your device's copy command` : missed);
}

function offPage(text) { // text to select for the browser's copy command, where nobody sees it
  let holder = $("#copy-holder");
  if (!holder) {
    holder = document.createElement("span");
    holder.id = "copy-holder";
    holder.className = "visually-hidden";
    document.body.append(holder);
  }
  holder.textContent = text;
  return holder;
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
  select.replaceChildren(new Option("best for the corpus", ""), ...(corpus ? corpus.models.map((m) => new Option(m, m)) : []));
}

// -- the requests, and the link that repeats one ---------------------------------------------------
// Each action is a form, the fields it sends and where its answer goes. The page's address (its
// fragment: #action=complete&pattern=*u*a&corpus=pokemon&n=5&seed=...) names the action and its
// fields, so a link to it fills the form and asks again, with the same seed: the same names.
const ACTIONS = {
  generate: { form: "#generate-form", path: "/generate", fields: ["corpus", "model", "n", "free", "seed"], show: showNames },
  like: { form: "#like-form", path: "/like", fields: ["like", "corpus", "model", "n", "free", "seed"], show: showNames },
  complete: { form: "#complete-form", path: "/complete", fields: ["pattern", "corpus", "model", "n", "seed"], show: showNames },
  detect: { form: "#detect-form", path: "/detect", fields: ["text"], show: showSounds },
};

function formState(action) {
  const params = new URLSearchParams({ action });
  for (const field of ACTIONS[action].fields) {
    if (field === "seed") params.set("seed", String(crypto.getRandomValues(new Uint32Array(1))[0]));
    else if (field === "free") { if ($("#free").checked) params.set("free", "1"); }
    else if ($(`#${field}`).value !== "") params.set(field, $(`#${field}`).value);
  }
  return params;
}

function fillForm(params) {
  const has = (field) => params.has(field);
  if (has("corpus")) { $("#corpus").value = params.get("corpus"); fillModels(); }
  if (has("model")) $("#model").value = params.get("model");
  for (const field of ["n", "like", "pattern", "text"]) if (has(field)) $(`#${field}`).value = params.get(field);
  if (ACTIONS[params.get("action")].fields.includes("free")) $("#free").checked = params.get("free") === "1";
}

function requestBody(params) {
  const body = { client };
  for (const [field, value] of params) {
    if (field === "action") continue;
    else if (field === "n" || field === "seed") { if (value !== "" && Number.isInteger(Number(value))) body[field] = Number(value); }
    else if (field === "free") body.free = value === "1";
    else body[field === "like" ? "name" : field] = value;
  }
  return body;
}

async function run(action, params) {
  const { form, path, show } = ACTIONS[action];
  const button = $(form).querySelector("button[type=submit]");
  clearErrors();
  button.disabled = true;
  show.before?.();
  try {
    const data = await answer(path, requestBody(params));
    // The model that made the names goes into the link: with the seed, it makes the same names again.
    if (data.names && !params.has("model")) params.set("model", data.names.model);
    history.replaceState(null, "", `#${params}`);
    reveal(show(data));
  } catch (err) {
    showError($(form).querySelector(".error"), err.message);
    show.failed?.();
  } finally {
    button.disabled = false;
  }
}

function runFromAddress() {
  const given = new URLSearchParams(location.hash.slice(1));
  const action = given.get("action");
  if (!Object.hasOwn(ACTIONS, action)) return;
  const params = new URLSearchParams({ action });
  for (const field of ACTIONS[action].fields) if (given.has(field)) params.set(field, given.get(field));
  fillForm(params);
  run(action, params);
}

// -- names -----------------------------------------------------------------------------------------
function namesSummary(reply) {
  const count = reply.candidates.length;
  if (reply.pattern) return `${plural(count, "completion", "completions")} of ${reply.pattern}`;
  const names = `${count} ${reply.free ? "free " : ""}${reply.corpus} ${count === 1 ? "name" : "names"}`;
  return reply.like ? `${names} like ${reply.like}` : names;
}

function showNames(data) {
  const reply = data.names;
  const chosen = reply.model_chosen_by === "bandit" ? " (picked by votes)" : "";
  $("#names-status").textContent = (reply.candidates.length
    ? `${namesSummary(reply)} from ${reply.model}${chosen}. Vote with the arrows.`
    : "No names found for that.") + (reply.note ? ` ${reply.note}` : "");
  $("#names").replaceChildren(...reply.candidates.map((candidate, i) => nameItem(data.answer_id, candidate, i + 1)));
  $("#results").classList.remove("stale");
  $("#results").removeAttribute("aria-busy");
  $("#names-link").hidden = false;
  return $("#results");
}
showNames.before = () => {
  $("#results").classList.add("stale");
  $("#results").setAttribute("aria-busy", "true");
};
showNames.failed = () => {
  $("#results").removeAttribute("aria-busy");
  const earlier = $("#names").children.length > 0;
  $("#names-status").textContent = earlier ? "The names below are from your earlier request." : "";
  $("#names-link").hidden = true; // the address is the earlier request's: no link to offer for this one
};

function nameItem(answerId, candidate, index) {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = candidate.name;
  const details = document.createElement("div");
  details.className = "details";
  const marks = document.createElement("span");
  marks.className = "marks";
  if (candidate.known) marks.append(badge("badge", "already exists"));
  for (const [registry, mark] of Object.entries(candidate.availability || {})) {
    const markBadge = badge(`badge mark ${mark.verdict.replace(" ", "-")}`, `${registry === "pypi" ? "PyPI" : registry} ${mark.verdict}`);
    if (mark.reason) markBadge.title = mark.reason;
    marks.append(markBadge);
  }
  const actions = document.createElement("span");
  actions.className = "actions";
  const copyButton = document.createElement("button");
  copyButton.type = "button";
  copyButton.className = "quiet copy";
  copyButton.textContent = "Copy";
  copyButton.setAttribute("aria-label", `Copy ${candidate.name}`);
  copyButton.addEventListener("click", () => copy(candidate.name, copyButton, name));
  actions.append(copyButton);
  for (const [direction, cls] of [[1, "up"], [-1, "down"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `vote ${cls}`;
    button.dataset.direction = String(direction);
    setVoteLabel(button, 0);
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", `${cls === "up" ? "Like" : "Dislike"} ${candidate.name}`);
    button.addEventListener("click", () => vote(answerId, index, direction, button));
    actions.append(button);
  }
  details.append(marks, actions);
  item.append(name, details);
  return item;
}

function badge(className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

async function vote(answerId, index, direction, button) {
  const added = button.getAttribute("aria-pressed") !== "true";
  showError($("#names-error"), "");
  button.disabled = true;
  try {
    // Who votes is the signed cookie this page got with it, not anything the page says.
    const { data } = await api("/votes", { answer_id: answerId, index, direction, added });
    button.setAttribute("aria-pressed", String(added));
    setVoteLabel(button, direction === 1 ? data.up : data.down);
  } catch (err) {
    showError($("#names-error"), err.message);
  } finally {
    button.disabled = false;
  }
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
function showSounds(data) {
  const answer = data.sounds_like;
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
  $("#sounds-results").classList.remove("stale");
  $("#sounds-link").hidden = false;
  return $("#sounds-results");
}
showSounds.before = () => $("#sounds-results").classList.add("stale");
showSounds.failed = () => { // an answer to another text would mislead: gone
  $("#sounds").replaceChildren();
  $("#sounds-results").classList.remove("stale");
  $("#sounds-link").hidden = true;
};

// -- wiring ----------------------------------------------------------------------------------------
$("#corpus").addEventListener("change", fillModels);
for (const [action, { form }] of Object.entries(ACTIONS)) {
  $(form).addEventListener("submit", (event) => {
    event.preventDefault();
    run(action, formState(action));
  });
}
for (const id of ["#names-link", "#sounds-link"]) {
  $(id).addEventListener("click", (event) => copy(location.href, event.currentTarget, null));
}
$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem("tnaas-token", $("#token").value);
  showError($("#token-error"), "");
  try {
    await loadCorpora();
    $("#token-form").hidden = true;
    runFromAddress();
  } catch (err) {
    showError($("#token-error"), err.message);
  }
});
addEventListener("hashchange", runFromAddress);

(async () => {
  try {
    await loadCorpora();
  } catch (err) {
    showError($("#generate-error"), err.message);
    return;
  }
  runFromAddress();
})();
