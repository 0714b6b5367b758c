// annotate.js: label the paragraphs of one article from the keyboard.
// Only the paragraph that changes is touched in the DOM, so long articles stay instant: each
// paragraph shows its label as a tag, and one toolbar (the label buttons) moves to the current one.
// Spans (spans.js) and links (links.js) keep their own state; this module routes keys to them.
import { SaveQueue, request } from "./api.js";
import { shortcutKey, unshifted, viaInputMethod } from "./keys.js";
import { Links } from "./links.js";
import { Later, fillTag, labelTag, noteField, noteText, saveState, setNote } from "./paragraph.js";
import { Spans, paragraphUnit } from "./spans.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const text = page.text;
const pluralRules = new Intl.PluralRules(document.documentElement.lang || "en");
/** A text holding numbers, in the plural form `count` takes in the UI's language; each
 * {name} of `values` (default: {count}) filled in. */
const counted = (name, count, values = { count }) => {
  const forms = page.counted[name];
  const form = forms[pluralRules.select(count)] ?? forms.other;
  return Object.entries(values).reduce((out, [key, value]) => out.replace(`{${key}}`, value), form);
};
const paragraphs = [...document.querySelectorAll(".para")];
const byId = new Map(paragraphs.map((p) => [p.dataset.paragraphId, p]));
const labelByHotkey = new Map(page.hotkeys.map((key, i) => [key, page.labels[i]]));
const labelInfo = new Map(page.labels.map((key, i) => [key, { hotkey: page.hotkeys[i], name: page.names[i] }]));
// A long article's paragraphs around the screens sent as HTML: drawn at idle, or at once up to
// the one a key needs; each then in `paragraphs` and `byId` like the others. `paragraphs` holds
// the drawn run of the article: the paragraph at article index i is at(i).
const later = new Later(document.getElementById("paragraphs"),
  { labels: labelInfo, saved: text.saved, suggested: text.suggested }, (drawn, before) => {
    if (before) paragraphs.unshift(...drawn);
    else paragraphs.push(...drawn);
    for (const para of drawn) byId.set(para.dataset.paragraphId, para);
  });
/** The paragraph at article index i (drawn first if need be; undefined outside the article). */
const at = (i) => {
  later.drawTo(i);
  return paragraphs[i - later.base];
};
const indexOf = (para) => Number(para.id.slice(1));
const total = () => paragraphs.length + later.size;
const countLabeled = () => paragraphs.filter((p) => p.dataset.label).length + later.labeled();
const toolbar = document.getElementById("para-tools");
const articleState = document.getElementById("article-state");
const imeHint = document.getElementById("ime-hint");
const confirmDone = document.getElementById("confirm-done");
const doneButton = document.getElementById("mark-done");
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
  onState(paragraphId, state, entry, error, body) {
    if (state === "rejected" && error) { // stays until the next message: not a retry warning
      banner.textContent = text.rejectedBecause.replace("{error}", error);
      banner.dataset.kind = "refused";
    }
    if (entry.kind === "spans") return spans.onState(paragraphId.slice("spans-".length), state, body);
    if (entry.kind === "links") return paragraphId === links.id && links.onState(state);
    const para = byId.get(String(paragraphId));
    if (!para) return;
    para.dataset.state = state;
    saveState(para).textContent = text[state] ?? "";
  },
  onCount(waiting, failing, stopped) {
    if (stopped) {
      showStopped(stopped, waiting);
    } else if (failing > 0) {
      banner.textContent = counted("waiting", waiting);
      banner.dataset.kind = "warning";
    } else if (waiting === 0 && (banner.dataset.kind === "warning" || banner.dataset.kind === "stopped")) {
      banner.textContent = text.allSaved;
      banner.dataset.kind = "ok";
    }
  },
  requests: { spans: Spans.send, links: (id, entry) => links.send(id, entry) },
});

const spans = new Spans(page, queue, byId, {
  say,
  onChange: (paragraphId, removed, renamed) => links.unitsChanged(removed, renamed),
  onSelect: () => links.showCurrent(),
});
const currentUnit = () => spans.selectedUnit()
  ?? (current >= 0 ? paragraphUnit(at(current).dataset.paragraphId) : null);
const links = new Links(page, queue, spans, byId, { currentUnit, say });

// Changes kept from an earlier visit show as pending until the server confirms them.
for (const [paragraphId, entry] of queue.entries()) {
  if (!entry.kind || entry.kind === "spans") later.drawFor(paragraphId.replace(/^spans-/, ""));
  if (entry.kind === "spans") spans.restore(paragraphId.slice("spans-".length), entry);
  if (entry.kind) continue;
  const para = byId.get(paragraphId);
  if (para) {
    showLabel(para, entry.label, entry.source);
    setNote(para, entry.note ?? "");
    para.dataset.state = "pending";
  }
}
links.restore();
spans.renderAll();
queue.flush();
updateProgress();

/** Signed out, or the page outlived its session: say so plainly, with the way back. */
function showStopped(why, waiting) {
  const signedOut = why === "signed-out";
  const action = document.createElement(signedOut ? "a" : "button");
  if (signedOut) {
    const back = window.location.pathname + window.location.hash;
    action.href = `${page.loginUrl}?next=${encodeURIComponent(back)}`;
  } else {
    action.type = "button";
    action.className = "small";
    action.addEventListener("click", () => window.location.reload());
  }
  action.id = "stopped-action";
  action.textContent = signedOut ? text.signIn : text.reload;
  banner.replaceChildren((signedOut ? text.signedOut : text.stalePage).replace("{count}", waiting), " ", action);
  banner.dataset.kind = "stopped";
}

// --- labels ------------------------------------------------------------------------

function showLabel(para, label, source = "human") {
  para.dataset.label = label ?? "";
  para.dataset.source = label ? source : "";
  fillTag(labelTag(para), label, labelInfo);
  if (para === at(current)) pressButtons(label);
}

function pressButtons(label) {
  for (const button of toolbar.querySelectorAll(".label-button")) {
    button.setAttribute("aria-pressed", String(button.dataset.label === label));
  }
}

function updateProgress() {
  const labeled = countLabeled();
  labeledCount.textContent = labeled;
  progress.setAttribute("aria-valuenow", labeled);
  progress.querySelector("progress").value = labeled;
  showArticleState(labeled);
}

/** "Finished." once marked done, else "All labeled: Shift+Enter to finish." when it is. */
function showArticleState(labeled = countLabeled()) {
  const finished = doneButton.getAttribute("aria-pressed") === "true";
  const kind = finished ? "done" : labeled === total() ? "labeled" : "";
  if (articleState.dataset.kind === kind) return;
  articleState.dataset.kind = kind;
  articleState.textContent = kind === "done" ? text.finished : kind === "labeled" ? text.allLabeled : "";
}

function stateOf(para) {
  return { para, label: para.dataset.label || null, note: noteText(para),
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
    if (note !== undefined) setNote(para, note ?? "");
    showLabel(para, label, source);
    return { paragraphId: para.dataset.paragraphId, label, note: label === null ? null : noteText(para),
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
  setLabel(at(current), label);
  advanceFrom(current);
}

function advanceFrom(index) {
  const next = nextUnlabeled(index);
  if (next !== -1) select(next);
}

/** Label paragraphs [from, to] with one label (null clears), in one request (source human). */
function labelRange(label, [from, to]) {
  clearRange();
  at(from);
  at(to);
  change(paragraphs.slice(from - later.base, to - later.base + 1).map((para) => ({ para, label })));
  if (label !== null) advanceFrom(to);
}

// --- suggestions -------------------------------------------------------------------

const suggested = (para) => para.dataset.suggestion && !para.dataset.label;

function acceptCurrent() {
  const para = at(current);
  if (!para || !suggested(para)) return;
  change([{ para, label: para.dataset.suggestion, source: "suggestion" }]);
  advanceFrom(current);
}

function acceptAll() {
  later.drawAll();
  const open = paragraphs.filter(suggested);
  if (open.length === 0) {
    say(text.noSuggestions, "info");
    return;
  }
  change(open.map((para) => ({ para, label: para.dataset.suggestion, source: "suggestion" })));
  say(counted("acceptedAll", open.length), "info");
  if (current >= 0 && at(current).dataset.label) advanceFrom(current);
}

function toggleReason() {
  const reason = at(current)?.querySelector(".suggestion-reason");
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
  select(indexOf(before[0].para));
  say(counted("undone", before.length), "info");
}

function say(message, kind) {
  banner.textContent = message;
  banner.dataset.kind = kind;
}

/** The article index of the first unlabeled paragraph after `from`, around to the start; -1
 * if there is none. */
function nextUnlabeled(from) {
  const count = total();
  const labeled = (i) => (i >= later.base && i < later.end ? Boolean(paragraphs[i - later.base].dataset.label)
    : later.isLabeled(i));
  for (let step = 1; step <= count; step++) {
    const i = (from + step) % count;
    if (i !== from && !labeled(i)) return i;
  }
  return -1;
}

// --- moving ------------------------------------------------------------------------

function select(index, extend = false) {
  if (index < 0 || index >= total()) return;
  if (extend && rangeAnchor === null && current >= 0) rangeAnchor = current;
  if (!extend) clearRange();
  if (index !== current) spans.leave();
  if (current >= 0) at(current).setAttribute("aria-selected", "false");
  current = index;
  const para = at(current);
  para.setAttribute("aria-selected", "true");
  noteField(para).before(toolbar); // the current paragraph has its (hidden) note field
  toolbar.hidden = false;
  pressButtons(para.dataset.label || null);
  keepInUpperPart(para);
  if (extend) showRange();
  links.showCurrent();
}

/** Scroll so the current paragraph sits in the upper part of the screen, with what follows it
 * below: only when it is out of the band between the sticky header and 60% down. */
function keepInUpperPart(para) {
  const top = document.querySelector(".article-head").getBoundingClientRect().bottom;
  const rect = para.getBoundingClientRect();
  const room = window.innerHeight - top;
  if (rect.top >= top && rect.bottom <= top + room * 0.6) return;
  window.scrollBy({ top: rect.top - (top + room * 0.2), behavior: "instant" });
}

// Shift+arrows select the paragraphs from the anchor to the current one; a label key labels them.
function rangeBounds() {
  return [Math.min(rangeAnchor, current), Math.max(rangeAnchor, current)];
}

function showRange() {
  const [from, to] = rangeBounds();
  for (const para of document.querySelectorAll(".para.in-range")) para.classList.remove("in-range");
  for (let i = from; i <= to; i++) at(i).classList.add("in-range");
}

function clearRange() {
  if (rangeAnchor === null) return;
  rangeAnchor = null;
  for (const para of document.querySelectorAll(".para.in-range")) para.classList.remove("in-range");
}

function openNote(para) {
  if (!para.dataset.label) {
    banner.textContent = text.noLabel;
    banner.dataset.kind = "info";
    return;
  }
  const note = noteField(para);
  note.hidden = false;
  note.focus();
}

/** Shift+Enter and the button: mark done, asking first while paragraphs are unlabeled. */
function askDone() {
  const unlabeled = total() - countLabeled();
  if (unlabeled === 0) return markDone();
  document.getElementById("confirm-done-text").textContent = counted("unlabeledLeft", total(),
    { count: unlabeled, total: total() });
  confirmDone.returnValue = "";
  confirmDone.showModal();
  document.getElementById("confirm-done-yes").focus();
}

confirmDone.addEventListener("keydown", (event) => {
  const key = shortcutKey(event).toLowerCase();
  if (key === "y") confirmDone.close("yes");
  else if (key === "n") confirmDone.close("no");
  else return;
  event.preventDefault();
  event.stopPropagation(); // closed now: the page's own shortcuts must not see this key
});

confirmDone.addEventListener("close", () => {
  if (confirmDone.returnValue === "yes") markDone();
  else advanceFrom(-1); // Esc or "no": to the first unlabeled paragraph
});

async function markDone() {
  const response = await request("PUT", `/api/articles/${page.articleId}/done`).catch(() => null);
  if (response?.status === 401) return showStopped("signed-out", queue.entries().length);
  if (!response?.ok) {
    banner.textContent = text.doneFailed; // not retried: the reader presses again
    banner.dataset.kind = "warning";
    return;
  }
  document.getElementById("start-next").submit(); // claims and opens the next article
}

async function toggleDone() {
  if (doneButton.getAttribute("aria-pressed") !== "true") return askDone();
  const response = await request("DELETE", `/api/articles/${page.articleId}/done`).catch(() => null);
  if (response?.status === 401) return showStopped("signed-out", queue.entries().length);
  if (response?.ok) {
    doneButton.setAttribute("aria-pressed", "false");
    showArticleState();
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

// With an input method on, keys are read by their position (keys.js), and the page says so.
function noticeInputMethod() {
  imeHint.hidden = false;
}
document.addEventListener("compositionstart", (event) => {
  if (!isTyping(event.target)) noticeInputMethod();
});

document.addEventListener("keydown", (event) => {
  if (isTyping(event.target)) {
    if (event.key === "Escape" && !event.isComposing && !(event.ctrlKey || event.metaKey || event.altKey)) {
      event.target.blur(); // Esc while composing cancels the composition, not the note
      if (event.target.classList.contains("note") && !event.target.value) event.target.hidden = true;
    }
    return;
  }
  if (document.querySelector("dialog[open]")) return; // a dialog handles its own keys
  if (viaInputMethod(event)) noticeInputMethod();
  const key = shortcutKey(event);
  if (spans.handleKey(event, key)) { // span mode's keys first: its own label hotkeys, arrows, Tab
    event.preventDefault();
    return;
  }
  if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && key === "z") {
    undo();
    event.preventDefault();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // Shift+hotkey (whichever character the layout makes of it) labels to the end
  const toEnd = event.shiftKey ? labelByHotkey.get(unshifted(event)) : undefined;
  const label = toEnd ? undefined : labelByHotkey.get(key);
  let handled = true;
  if (toEnd) {
    later.drawAll();
    labelRange(toEnd, rangeAnchor !== null ? rangeBounds() : [current, total() - 1]);
  }
  else if (label) labelAndAdvance(label);
  else if (key === "Enter" && event.shiftKey) askDone();
  else if (event.shiftKey && (key === "ArrowDown" || key === "J")) select(current + 1, true);
  else if (event.shiftKey && (key === "ArrowUp" || key === "K")) select(current - 1, true);
  else if (key === "j" || key === "ArrowDown") select(current + 1);
  else if (key === "k" || key === "ArrowUp") select(current - 1);
  else if (key === "a") acceptCurrent();
  else if (key === "A") acceptAll();
  else if (key === "u") undo();
  else if (key === "i") toggleReason();
  else if (key === "Escape" && rangeAnchor !== null) clearRange();
  else if (key === "0" || key === "Backspace") {
    if (rangeAnchor !== null) labelRange(null, rangeBounds());
    else if (current >= 0) setLabel(at(current), null);
  }
  else if (key === ".") {
    const previous = at(current - 1)?.dataset.label;
    if (previous) labelAndAdvance(previous);
  }
  else if (key === "e") openNote(at(current));
  else if (key === "s" && current >= 0) spans.enter(at(current));
  else if (key === "l") {
    later.drawAll(); // the picker lists the article's claims
    links.open();
  }
  else if (key === "n") go(page.nextUrl);
  else if (key === "p") go(page.previousUrl);
  else if (key === "g") toggleGuidelines();
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

document.getElementById("paragraphs").addEventListener("click", (event) => {
  const para = event.target.closest(".para");
  if (!para) return;
  const button = event.target.closest(".label-button");
  if (button) return labelAndAdvance(button.dataset.label); // the toolbar: the current paragraph
  if (event.target.closest(".note-toggle")) return openNote(para);
  select(indexOf(para));
});

// A mouse selection inside a paragraph's text: span mode on it, snapped to whole characters;
// in span mode, a click in the text moves the caret there.
document.getElementById("paragraphs").addEventListener("mouseup", (event) => {
  const para = event.target.closest(".para");
  if (!para || isTyping(event.target)) return; // a note's own selection
  if (window.getSelection()?.isCollapsed !== false) return spans.clickAt(para);
  select(indexOf(para));
  spans.fromMouse(para);
});

document.getElementById("paragraphs").addEventListener("input", (event) => {
  if (!event.target.classList.contains("note")) return;
  const para = event.target.closest(".para");
  if (para.dataset.label) {
    queue.put(para.dataset.paragraphId, para.dataset.label, event.target.value, para.dataset.source || "human");
  }
});

// The guidelines stay as the reader left them, across articles and reloads (this browser).
const GUIDELINES_KEY = "annotator.guidelines-hidden";

function showGuidelines(hidden) {
  document.body.classList.toggle("guidelines-hidden", hidden);
  document.getElementById("toggle-guidelines").setAttribute("aria-expanded", String(!hidden));
}

function toggleGuidelines() {
  const hidden = !document.body.classList.contains("guidelines-hidden");
  showGuidelines(hidden);
  try {
    if (hidden) localStorage.setItem(GUIDELINES_KEY, "1");
    else localStorage.removeItem(GUIDELINES_KEY);
  } catch {
    // storage full or disabled: remembered for this page only
  }
}

try {
  showGuidelines(localStorage.getItem(GUIDELINES_KEY) === "1");
} catch {
  showGuidelines(false);
}
document.getElementById("toggle-guidelines").addEventListener("click", toggleGuidelines);
document.getElementById("show-help").addEventListener("click", () => help.showModal());
document.getElementById("mark-done").addEventListener("click", toggleDone);
document.getElementById("accept-all")?.addEventListener("click", acceptAll);

// Start where the reader left off: the paragraph in the URL, else the first unlabeled one;
// a later #p<index> (a link, the address bar) selects that paragraph (drawn first if need be).
const fromHash = () => {
  const index = /^#p(\d+)$/.exec(window.location.hash)?.[1];
  return index !== undefined && Number(index) < total() ? Number(index) : -1;
};
window.addEventListener("hashchange", () => {
  if (fromHash() !== -1) select(fromHash());
});
// The current paragraph decides the scroll: a reload's restored position would leave it under
// the sticky header.
history.scrollRestoration = "manual";
select(fromHash() !== -1 ? fromHash() : Math.max(0, nextUnlabeled(-1)));
