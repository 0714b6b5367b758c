// annotate.js: label the paragraphs of one article from the keyboard.
// Only the paragraph that changes is touched in the DOM, so long articles stay instant.
import { SaveQueue, request } from "./api.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const text = page.text;
const paragraphs = [...document.querySelectorAll(".para")];
const byId = new Map(paragraphs.map((p) => [p.dataset.paragraphId, p]));
const labelByHotkey = new Map(page.hotkeys.map((key, i) => [key, page.labels[i]]));
const banner = document.getElementById("save-banner");
const labeledCount = document.getElementById("labeled-count");
const progress = document.getElementById("progress");
const help = document.getElementById("help");
let current = -1;

const isTyping = (el) => el instanceof Element && el.closest("input, textarea, select, [contenteditable]");

// --- saving ------------------------------------------------------------------------

const queue = new SaveQueue(`annotator.pending.${page.userId}`, {
  onState(paragraphId, state, entry, error) {
    const para = byId.get(String(paragraphId));
    if (!para) return;
    if (state === "rejected" && error) { // stays until the next message: not a retry warning
      banner.textContent = text.rejectedBecause.replace("{error}", error);
      banner.dataset.kind = "refused";
    }
    para.dataset.state = state;
    para.querySelector(".save-state").textContent = text[state === "signed-out" ? "failed" : state] ?? "";
    para.querySelector(".save-state").title = state === "signed-out" ? text.signedOut : "";
  },
  onCount(waiting, failing) {
    if (failing > 0) {
      banner.textContent = text.waiting.replace("{count}", waiting);
      banner.dataset.kind = "warning";
    } else if (waiting === 0 && banner.dataset.kind === "warning") {
      banner.textContent = text.allSaved;
      banner.dataset.kind = "ok";
    }
  },
});

// Changes kept from an earlier visit show as pending until the server confirms them.
for (const [paragraphId, entry] of queue.entries()) {
  const para = byId.get(paragraphId);
  if (para) {
    showLabel(para, entry.label);
    para.querySelector(".note").value = entry.note ?? "";
    para.dataset.state = "pending";
  }
}
queue.flush();
updateProgress();

// --- labels ------------------------------------------------------------------------

function showLabel(para, label) {
  para.dataset.label = label ?? "";
  for (const button of para.querySelectorAll(".label-button")) {
    button.setAttribute("aria-pressed", String(button.dataset.label === label));
  }
}

function updateProgress() {
  const labeled = paragraphs.filter((p) => p.dataset.label).length;
  labeledCount.textContent = labeled;
  progress.setAttribute("aria-valuenow", labeled);
  progress.querySelector("progress").value = labeled;
}

function setLabel(para, label) {
  const note = para.querySelector(".note").value;
  showLabel(para, label);
  updateProgress();
  queue.put(para.dataset.paragraphId, label, label === null ? null : note);
}

function labelAndAdvance(label) {
  if (current < 0) return;
  setLabel(paragraphs[current], label);
  const next = nextUnlabeled(current);
  if (next !== -1) select(next);
}

function nextUnlabeled(from) {
  for (let i = from + 1; i < paragraphs.length; i++) if (!paragraphs[i].dataset.label) return i;
  for (let i = 0; i < from; i++) if (!paragraphs[i].dataset.label) return i;
  return -1;
}

// --- moving ------------------------------------------------------------------------

function select(index) {
  if (index < 0 || index >= paragraphs.length) return;
  if (current >= 0) paragraphs[current].setAttribute("aria-selected", "false");
  current = index;
  const para = paragraphs[current];
  para.setAttribute("aria-selected", "true");
  para.scrollIntoView({ block: "nearest" });
}

function openNote(para) {
  if (!para.dataset.label) {
    banner.textContent = text.noLabel;
    banner.dataset.kind = "info";
    return;
  }
  const note = para.querySelector(".note");
  note.hidden = false;
  note.focus();
}

async function markDone() {
  const response = await request("PUT", `/api/articles/${page.articleId}/done`).catch(() => null);
  if (!response?.ok) {
    banner.textContent = text.doneFailed; // not retried: the reader presses again
    banner.dataset.kind = "warning";
    return;
  }
  document.getElementById("start-next").submit(); // claims and opens the next article
}

async function toggleDone() {
  const button = document.getElementById("mark-done");
  if (button.getAttribute("aria-pressed") !== "true") return markDone();
  const response = await request("DELETE", `/api/articles/${page.articleId}/done`).catch(() => null);
  if (response?.ok) {
    button.setAttribute("aria-pressed", "false");
    button.classList.remove("secondary");
    banner.textContent = text.reopened;
    banner.dataset.kind = "info";
  } else {
    banner.textContent = text.failed;
    banner.dataset.kind = "warning";
  }
}

function go(url) {
  if (url) window.location.href = url;
}

// --- keyboard and mouse ------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target)) {
    if (event.key === "Escape") {
      event.target.blur();
      if (event.target.classList.contains("note") && !event.target.value) event.target.hidden = true;
    }
    return;
  }
  if (help.open) return; // the dialog handles its own keys
  const label = labelByHotkey.get(event.key);
  let handled = true;
  if (label) labelAndAdvance(label);
  else if (event.key === "Enter" && event.shiftKey) markDone();
  else if (event.key === "j" || event.key === "ArrowDown") select(current + 1);
  else if (event.key === "k" || event.key === "ArrowUp") select(current - 1);
  else if (event.key === "0" || event.key === "Backspace") { if (current >= 0) setLabel(paragraphs[current], null); }
  else if (event.key === ".") {
    const previous = paragraphs[current - 1]?.dataset.label;
    if (previous) labelAndAdvance(previous);
  }
  else if (event.key === "e") openNote(paragraphs[current]);
  else if (event.key === "n") go(page.nextUrl);
  else if (event.key === "p") go(page.previousUrl);
  else if (event.key === "g") toggleGuidelines();
  else if (event.key === "?") help.showModal();
  else handled = false;
  if (handled) event.preventDefault();
});

document.getElementById("paragraphs").addEventListener("click", (event) => {
  const para = event.target.closest(".para");
  if (!para) return;
  select(paragraphs.indexOf(para));
  const button = event.target.closest(".label-button");
  if (button) labelAndAdvance(button.dataset.label);
  else if (event.target.closest(".note-toggle")) openNote(para);
});

document.getElementById("paragraphs").addEventListener("input", (event) => {
  if (!event.target.classList.contains("note")) return;
  const para = event.target.closest(".para");
  if (para.dataset.label) queue.put(para.dataset.paragraphId, para.dataset.label, event.target.value);
});

function toggleGuidelines() {
  const button = document.getElementById("toggle-guidelines");
  const open = document.body.classList.toggle("guidelines-hidden");
  button.setAttribute("aria-expanded", String(!open));
}

document.getElementById("toggle-guidelines").addEventListener("click", toggleGuidelines);
document.getElementById("show-help").addEventListener("click", () => help.showModal());
document.getElementById("mark-done").addEventListener("click", toggleDone);

// Start where the reader left off: the paragraph in the URL, else the first unlabeled one.
const fromHash = paragraphs.findIndex((p) => `#p${p.dataset.index}` === window.location.hash);
select(fromHash !== -1 ? fromHash : Math.max(0, nextUnlabeled(-1)));
