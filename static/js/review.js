// review.js: set gold labels on the review page from the keyboard, as fast as labeling.
// Each card keeps its state in the DOM: data-gold (what the server has), data-wanted (what the
// reviewer chose), data-state (pending|saved|failed|signed-out|rejected).
import { request } from "./api.js";
import { shortcutKey } from "./keys.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const text = page.text;
const cards = [...document.querySelectorAll(".review-card")];
const labelByHotkey = new Map(page.hotkeys.map((key, i) => [key, page.labels[i]]));
const status = document.getElementById("review-status");
const remaining = document.getElementById("remaining-count");
const help = document.getElementById("help");
const RETRY_STATUSES = new Set([401, 408, 425, 429]);
const MAX_DELAY_MS = 8000;
const inFlight = new Set();
const retries = new Map(); // paragraph id -> {timer, delay}
let current = -1;

const isTyping = (el) => el instanceof Element && el.closest("input, textarea, select, [contenteditable]");

// --- saving ------------------------------------------------------------------------

function showState(card, state) {
  card.dataset.state = state;
  const line = card.querySelector(".save-state");
  line.textContent = state === "signed-out" ? text.signedOutState : text[state] ?? "";
}

function showGold(card, label) {
  card.dataset.wanted = label;
  for (const button of card.querySelectorAll(".gold-button")) {
    button.setAttribute("aria-pressed", String(button.dataset.label === label));
  }
}

function setGold(card, label) {
  if (card.dataset.wanted === label && card.dataset.state !== "failed" && card.dataset.state !== "rejected") return;
  showGold(card, label);
  showState(card, "pending");
  updateBanner();
  send(card);
}

async function send(card) {
  const id = card.dataset.paragraphId;
  if (inFlight.has(id)) return; // sent again when the request on its way comes back
  clearTimeout(retries.get(id)?.timer);
  const wanted = card.dataset.wanted;
  inFlight.add(id);
  let response = null;
  try {
    const url = `/api/paragraphs/${id}/gold`;
    response = wanted ? await request("PUT", url, { label: wanted }) : await request("DELETE", url);
  } catch {
    response = null; // the server is unreachable
  }
  inFlight.delete(id);
  if (card.dataset.wanted !== wanted) return send(card); // changed while this one was on its way
  if (response?.ok) {
    retries.delete(id);
    confirmed(card, wanted);
    showState(card, "saved");
  } else if (response && response.status < 500 && !RETRY_STATUSES.has(response.status)) {
    retries.delete(id);
    showState(card, "rejected"); // bad label, no right, paragraph gone: retrying cannot help
  } else if (response?.status === 401) {
    retries.delete(id); // no retrying until signed in again: the tab shown again tries once
    showState(card, "signed-out");
  } else {
    showState(card, "failed");
    const delay = Math.min((retries.get(id)?.delay ?? 500) * 2, MAX_DELAY_MS);
    retries.set(id, { delay, timer: setTimeout(() => send(card), delay) });
  }
  updateBanner();
}

function retryNow() {
  for (const card of cards) {
    if (card.dataset.state === "failed" || card.dataset.state === "signed-out") send(card);
  }
}

/** The server has `label` as gold now: keep the project's count of open disagreements true. */
function confirmed(card, label) {
  const before = card.dataset.gold;
  card.dataset.gold = label;
  if (card.dataset.disagreement !== "true" || Boolean(before) === Boolean(label)) return;
  remaining.textContent = String(Number(remaining.textContent) + (label ? -1 : 1));
}

function unsaved() {
  return cards.filter((card) => ["pending", "failed", "signed-out"].includes(card.dataset.state));
}

/** One line above the cards: signed out, else unsaved gold, else whether the page is all done. */
function updateBanner() {
  const failing = cards.some((card) => ["failed", "signed-out"].includes(card.dataset.state));
  const pageDone = cards.length > 0 && cards.every((card) => card.dataset.wanted);
  if (cards.some((card) => card.dataset.state === "signed-out")) {
    // The gold chosen here lives in this page only: sign in in another tab, then come back.
    const link = document.createElement("a");
    link.id = "sign-in-link";
    link.href = `${page.loginUrl}?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
    link.target = "_blank";
    link.textContent = text.signIn;
    status.replaceChildren(text.signedOut, " ", link);
    status.dataset.kind = "warning";
  } else if (failing) {
    status.textContent = text.unsaved;
    status.dataset.kind = "warning";
  } else if (pageDone) {
    status.textContent = page.nextPageUrl ? `${text.pageDone} ${text.nextPage}` : text.pageDone;
    status.dataset.kind = "info";
  } else {
    status.textContent = "";
    delete status.dataset.kind;
  }
}

// --- moving ------------------------------------------------------------------------

function select(index) {
  if (index < 0 || index >= cards.length) return;
  if (current >= 0) cards[current].setAttribute("aria-selected", "false");
  current = index;
  cards[current].setAttribute("aria-selected", "true");
  cards[current].scrollIntoView({ block: "nearest" });
}

function nextWithoutGold(from) {
  for (let i = from + 1; i < cards.length; i++) if (!cards[i].dataset.wanted) return i;
  for (let i = 0; i < from; i++) if (!cards[i].dataset.wanted) return i;
  return -1;
}

function goldAndAdvance(label) {
  if (current < 0) return;
  setGold(cards[current], label);
  const next = nextWithoutGold(current);
  if (next !== -1) select(next);
}

// --- keyboard and mouse ------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  if (help.open) return; // the dialog handles its own keys (Esc closes it)
  const key = shortcutKey(event); // an input method's keys by their position (keys.js)
  const label = labelByHotkey.get(key);
  let handled = true;
  if (label) goldAndAdvance(label);
  else if (key === "j" || key === "ArrowDown") select(current + 1);
  else if (key === "k" || key === "ArrowUp") select(current - 1);
  else if (key === "0" || key === "Backspace") { if (current >= 0) setGold(cards[current], ""); }
  else if (key === "o" && current >= 0) window.location.href = cards[current].querySelector(".review-title").href;
  else if (key === "n" && page.nextPageUrl) window.location.href = page.nextPageUrl;
  else if (key === "?") help.showModal();
  else handled = false;
  if (handled) event.preventDefault();
});

help.addEventListener("keydown", (event) => {
  if (shortcutKey(event) !== "?") return;
  help.close(); // "?" opens and closes it
  event.preventDefault();
  event.stopPropagation(); // closed now: the page's "?" would open it again
});

document.getElementById("review-list").addEventListener("click", (event) => {
  const card = event.target.closest(".review-card");
  if (!card || event.target.closest("a")) return;
  select(cards.indexOf(card));
  const button = event.target.closest(".gold-button");
  if (button) goldAndAdvance(button.dataset.label);
  else if (event.target.closest(".gold-clear")) setGold(card, "");
});

document.getElementById("show-help").addEventListener("click", () => help.showModal());
window.addEventListener("online", retryNow);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) retryNow(); // signed in again in another tab?
});
window.addEventListener("beforeunload", (event) => {
  if (unsaved().length > 0) event.preventDefault(); // the browser asks before leaving
});

// Start on the first paragraph without a gold label.
if (cards.length > 0) select(Math.max(0, nextWithoutGold(-1)));
updateBanner();
