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
let rangeAnchor = null; // Shift+arrows: the paragraph the selection started from
const undoStack = []; // each entry: the paragraphs one action changed, as they were before it
const MAX_UNDO = 100;

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
    showLabel(para, entry.label, entry.source);
    para.querySelector(".note").value = entry.note ?? "";
    para.dataset.state = "pending";
  }
}
queue.flush();
updateProgress();

// --- labels ------------------------------------------------------------------------

function showLabel(para, label, source = "human") {
  para.dataset.label = label ?? "";
  para.dataset.source = label ? source : "";
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

function stateOf(para) {
  return { para, label: para.dataset.label || null, note: para.querySelector(".note").value,
           source: para.dataset.source || "human" };
}

/**
 * Apply [{para, label, note?, source?}] (label null clears) and save them: one paragraph as a
 * single save, several in one batch request. Undoable unless `undoing`.
 */
function change(changes, undoing = false) {
  if (changes.length === 0) return;
  if (!undoing) {
    undoStack.push(changes.map(({ para }) => stateOf(para)));
    if (undoStack.length > MAX_UNDO) undoStack.shift();
  }
  const items = changes.map(({ para, label, note, source = "human" }) => {
    const textarea = para.querySelector(".note");
    if (note !== undefined) textarea.value = note ?? "";
    showLabel(para, label, source);
    return { paragraphId: para.dataset.paragraphId, label, note: label === null ? null : textarea.value,
             source };
  });
  updateProgress();
  if (items.length === 1) {
    const [{ paragraphId, label, note, source }] = items;
    queue.put(paragraphId, label, note, source);
  } else {
    queue.putMany(page.articleId, items);
  }
}

function setLabel(para, label) {
  change([{ para, label }]);
}

function labelAndAdvance(label) {
  if (current < 0) return;
  if (rangeAnchor !== null) return labelRange(label, rangeBounds());
  setLabel(paragraphs[current], label);
  advanceFrom(current);
}

function advanceFrom(index) {
  const next = nextUnlabeled(index);
  if (next !== -1) select(next);
}

/** Label paragraphs [from, to] with one label (null clears), in one request (source human). */
function labelRange(label, [from, to]) {
  clearRange();
  change(paragraphs.slice(from, to + 1).map((para) => ({ para, label })));
  if (label !== null) advanceFrom(to);
}

// --- suggestions -------------------------------------------------------------------

const suggested = (para) => para.dataset.suggestion && !para.dataset.label;

function acceptCurrent() {
  const para = paragraphs[current];
  if (!para || !suggested(para)) return;
  change([{ para, label: para.dataset.suggestion, source: "suggestion" }]);
  advanceFrom(current);
}

function acceptAll() {
  const open = paragraphs.filter(suggested);
  if (open.length === 0) {
    say(text.noSuggestions, "info");
    return;
  }
  change(open.map((para) => ({ para, label: para.dataset.suggestion, source: "suggestion" })));
  say(text.acceptedAll.replace("{count}", open.length), "info");
  if (current >= 0 && paragraphs[current].dataset.label) advanceFrom(current);
}

function toggleReason() {
  const reason = paragraphs[current]?.querySelector(".suggestion-reason");
  if (reason) reason.hidden = !reason.hidden;
}

function undo() {
  const before = undoStack.pop();
  if (!before) {
    say(text.nothingToUndo, "info");
    return;
  }
  clearRange();
  change(before, true);
  select(paragraphs.indexOf(before[0].para));
  say(text.undone.replace("{count}", before.length), "info");
}

function say(message, kind) {
  banner.textContent = message;
  banner.dataset.kind = kind;
}

function nextUnlabeled(from) {
  for (let i = from + 1; i < paragraphs.length; i++) if (!paragraphs[i].dataset.label) return i;
  for (let i = 0; i < from; i++) if (!paragraphs[i].dataset.label) return i;
  return -1;
}

// --- moving ------------------------------------------------------------------------

function select(index, extend = false) {
  if (index < 0 || index >= paragraphs.length) return;
  if (extend && rangeAnchor === null && current >= 0) rangeAnchor = current;
  if (!extend) clearRange();
  if (current >= 0) paragraphs[current].setAttribute("aria-selected", "false");
  current = index;
  const para = paragraphs[current];
  para.setAttribute("aria-selected", "true");
  para.scrollIntoView({ block: "nearest" });
  if (extend) showRange();
}

// Shift+arrows select the paragraphs from the anchor to the current one; a label key labels them.
function rangeBounds() {
  return [Math.min(rangeAnchor, current), Math.max(rangeAnchor, current)];
}

function showRange() {
  const [from, to] = rangeBounds();
  for (const para of document.querySelectorAll(".para.in-range")) para.classList.remove("in-range");
  for (let i = from; i <= to; i++) paragraphs[i].classList.add("in-range");
}

function clearRange() {
  if (rangeAnchor === null) return;
  rangeAnchor = null;
  for (const para of document.querySelectorAll(".para.in-range")) para.classList.remove("in-range");
}

/** The unshifted key of a Shift+key press ("1" for Shift+1, "x" for Shift+x), from its position. */
function unshifted(event) {
  if (event.code.startsWith("Digit")) return event.code.slice(5);
  if (event.code.startsWith("Key")) return event.code.slice(3).toLowerCase();
  return event.key;
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
  if (isTyping(event.target)) {
    if (event.key === "Escape" && !(event.ctrlKey || event.metaKey || event.altKey)) {
      event.target.blur();
      if (event.target.classList.contains("note") && !event.target.value) event.target.hidden = true;
    }
    return;
  }
  if (help.open) return; // the dialog handles its own keys
  if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key === "z") {
    undo();
    event.preventDefault();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // Shift+hotkey (whichever character the layout makes of it) labels to the end
  const toEnd = event.shiftKey ? labelByHotkey.get(unshifted(event)) : undefined;
  const label = toEnd ? undefined : labelByHotkey.get(event.key);
  let handled = true;
  if (toEnd) labelRange(toEnd, rangeAnchor !== null ? rangeBounds() : [current, paragraphs.length - 1]);
  else if (label) labelAndAdvance(label);
  else if (event.key === "Enter" && event.shiftKey) markDone();
  else if (event.shiftKey && (event.key === "ArrowDown" || event.key === "J")) select(current + 1, true);
  else if (event.shiftKey && (event.key === "ArrowUp" || event.key === "K")) select(current - 1, true);
  else if (event.key === "j" || event.key === "ArrowDown") select(current + 1);
  else if (event.key === "k" || event.key === "ArrowUp") select(current - 1);
  else if (event.key === "a") acceptCurrent();
  else if (event.key === "A") acceptAll();
  else if (event.key === "u") undo();
  else if (event.key === "i") toggleReason();
  else if (event.key === "Escape" && rangeAnchor !== null) clearRange();
  else if (event.key === "0" || event.key === "Backspace") {
    if (rangeAnchor !== null) labelRange(null, rangeBounds());
    else if (current >= 0) setLabel(paragraphs[current], null);
  }
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
  if (para.dataset.label) {
    queue.put(para.dataset.paragraphId, para.dataset.label, event.target.value, para.dataset.source || "human");
  }
});

function toggleGuidelines() {
  const button = document.getElementById("toggle-guidelines");
  const open = document.body.classList.toggle("guidelines-hidden");
  button.setAttribute("aria-expanded", String(!open));
}

document.getElementById("toggle-guidelines").addEventListener("click", toggleGuidelines);
document.getElementById("show-help").addEventListener("click", () => help.showModal());
document.getElementById("mark-done").addEventListener("click", toggleDone);
document.getElementById("accept-all")?.addEventListener("click", acceptAll);

// Start where the reader left off: the paragraph in the URL, else the first unlabeled one.
const fromHash = paragraphs.findIndex((p) => `#p${p.dataset.index}` === window.location.hash);
select(fromHash !== -1 ? fromHash : Math.max(0, nextUnlabeled(-1)));
