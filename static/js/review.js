// review.js: set gold labels, spans and links on the review page from the keyboard, as fast as
// labeling. Each card keeps its label state in the DOM: data-gold (what the server has),
// data-wanted (what the reviewer chose), data-state (pending|saved|failed|signed-out|rejected,
// the worst of the card's saves, review-saves.js). Gold spans and links are saved whole, per
// paragraph and per article, through the gold routes, links after the spans they name;
// review-spans.js draws them.
import { shortcutKey, unshifted } from "./keys.js";
import { createSaves } from "./review-saves.js";
import { el, linkText, markedText } from "./review-spans.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const text = page.text;
const cards = [...document.querySelectorAll(".review-card")];
const labelByHotkey = new Map(page.hotkeys.map((key, i) => [key, page.labels[i]]));
const status = document.getElementById("review-status");
const remaining = document.getElementById("remaining-count");
const help = document.getElementById("help");
let current = -1;

// The gold spans and links the reviewer wants, by paragraph and by article (the server's at first).
const goldSpans = new Map(); // paragraph id -> [{id?, start, end, label, text}]
const goldLinks = new Map(); // article id -> [{from, to, relation}], each end {paragraph_id, index, span}
const savedSpans = new Map(); // paragraph id -> how many gold spans the server has
const waiting = new Map(); // paragraph id -> links accepted with its spans, an end not gold yet
for (const [pid, data] of Object.entries(page.paragraphs)) savedSpans.set(pid, data.gold.length);
for (const [articleId, article] of Object.entries(page.articles)) {
  goldLinks.set(articleId, article.goldLinks);
  for (const [pid, spans] of Object.entries(article.goldSpans)) goldSpans.set(pid, spans);
}

const isTyping = (el) => el instanceof Element && el.closest("input, textarea, select, [contenteditable]");

// --- saving (review-saves.js): one job per thing saved whole -----------------------

const saves = createSaves({
  onChange(card) {
    const state = saves.stateOf(card);
    card.dataset.state = state;
    card.querySelector(".save-state").textContent =
      state === "signed-out" ? text.signedOutState : text[state] ?? "";
    updateBanner();
  },
  onSettled(job) {
    if (job.spansOf) saves.nudge(`links:${job.spansOf}`); // links waiting on these spans
  },
});

// --- gold labels ---------------------------------------------------------------------

function showGold(card, label) {
  card.dataset.wanted = label;
  for (const button of card.querySelectorAll(".gold-button")) {
    button.setAttribute("aria-pressed", String(button.dataset.label === label));
  }
}

function setGold(card, label) {
  const job = saves.get(`gold:${card.dataset.paragraphId}`);
  if (card.dataset.wanted === label && !["failed", "rejected"].includes(job?.state)) return;
  showGold(card, label);
  const url = `/api/paragraphs/${card.dataset.paragraphId}/gold`;
  saves.want(`gold:${card.dataset.paragraphId}`, card, () => {
    const wanted = card.dataset.wanted;
    return wanted ? { method: "PUT", url, body: { label: wanted }, value: wanted }
      : { method: "DELETE", url, value: wanted };
  }, (_answer, label) => confirmed(card, () => { card.dataset.gold = label; }));
}

/** Whether the server has gold for the card: a gold label or gold spans. */
const settled = (card) => Boolean(card.dataset.gold) || savedSpans.get(card.dataset.paragraphId) > 0;

/** Record what the server has now (`change()`), keeping the count of open disagreements true. */
function confirmed(card, change) {
  const before = settled(card);
  change();
  const after = settled(card);
  if (card.dataset.disagreement !== "true" || before === after) return;
  remaining.textContent = String(Number(remaining.textContent) + (after ? -1 : 1));
}

// --- gold spans and links ------------------------------------------------------------

const sameSpan = (a, b) => a.start === b.start && a.end === b.end && a.label === b.label;
const endKey = (end) => (end.span ? `s${end.span.id}` : `p${end.paragraph_id}`);
const linkKey = (link) => `${endKey(link.from)}>${endKey(link.to)}:${link.relation}`;

/** An annotator's link end as a gold one: the gold span with the same offsets and label (saved,
 * so it has an id), or the paragraph; null if that span is not gold. */
function goldEnd(end) {
  if (!end.span) return end;
  const span = (goldSpans.get(String(end.paragraph_id)) ?? []).find((g) => g.id && sameSpan(g, end.span));
  return span ? { ...end, span } : null;
}

function goldLink(link) {
  const from = goldEnd(link.from);
  const to = goldEnd(link.to);
  return from && to ? { from, to, relation: link.relation } : null;
}

/** Whether the article's gold links hold `link` already (its ends mapped onto gold spans). */
function inGold(link, article) {
  const wanted = goldLink(link);
  return wanted !== null && (goldLinks.get(article) ?? []).some((g) => linkKey(g) === linkKey(wanted));
}

/** Make `spans` the paragraph's gold spans; `links` (an annotator's, accepted with them) become
 * gold links once the spans at both their ends are saved and have ids (waiting till then). */
function setGoldSpans(card, spans, links = []) {
  const pid = card.dataset.paragraphId;
  waiting.set(pid, links);
  const before = goldSpans.get(pid) ?? []; // an unchanged span keeps its id, and its links
  goldSpans.set(pid, spans.map((s) => ({ ...s, id: before.find((g) => sameSpan(g, s))?.id })));
  renderArticle(card.dataset.article);
  saves.want(`spans:${pid}`, card, () => {
    const spans = goldSpans.get(pid) ?? [];
    return { method: "PUT", url: `/api/paragraphs/${pid}/gold/spans`, value: spans,
             body: { spans: spans.map(({ start, end, label }) => ({ start, end, label })) } };
  }, (answer) => spansSaved(card, answer), { spansOf: card.dataset.article });
}

function spansSaved(card, answer) {
  const pid = card.dataset.paragraphId;
  const stored = Array.isArray(answer) ? answer : answer?.spans ?? [];
  const paragraphText = card.querySelector(".review-text").textContent;
  const chars = Array.from(paragraphText);
  goldSpans.set(pid, stored.map((s) => ({ ...s, text: chars.slice(s.start, s.end).join("") })));
  confirmed(card, () => savedSpans.set(pid, stored.length));
  // the server dropped the gold links of spans no longer gold; the page does the same
  const article = card.dataset.article;
  const ids = new Set([...goldSpans.values()].flat().map((s) => s.id));
  const kept = (goldLinks.get(article) ?? []).filter((l) =>
    [l.from, l.to].every((end) => !end.span || ids.has(end.span.id)));
  goldLinks.set(article, kept);
  const added = new Map(); // key -> link: accepted links whose ends are all gold now
  for (const other of cards.filter((c) => c.dataset.article === article)) {
    const links = waiting.get(other.dataset.paragraphId) ?? [];
    for (const link of links.filter((l) => goldLink(l) && !inGold(l, article))) {
      added.set(linkKey(goldLink(link)), goldLink(link));
    }
    waiting.set(other.dataset.paragraphId, links.filter((link) => !goldLink(link)));
  }
  if (added.size > 0) setGoldLinks(card, [...kept, ...added.values()]);
  renderArticle(article);
}

function setGoldLinks(card, links) {
  const article = card.dataset.article;
  goldLinks.set(article, links);
  renderArticle(article);
  saves.want(`links:${article}`, card, () => {
    const ref = (end) => (end.span ? { span_id: end.span.id } : { paragraph_id: end.paragraph_id });
    const wanted = goldLinks.get(article) ?? [];
    return { method: "PUT", url: `/api/articles/${article}/gold/links`, value: wanted,
             body: { links: wanted.map((l) => ({ from: ref(l.from), to: ref(l.to), relation: l.relation })) } };
  }, null, { article, waitsFor: (jobs) => jobs.some((other) => other.spansOf === article &&
    (other.inFlight || ["pending", "failed"].includes(other.state))) });
}

function acceptAnnotator(card, number) {
  const annotator = page.paragraphs[card.dataset.paragraphId]?.annotators[number];
  if (annotator) setGoldSpans(card, annotator.spans, annotator.links);
}

function acceptLink(card, link) {
  const gold = goldLink(link);
  if (!gold || inGold(link, card.dataset.article)) return;
  setGoldLinks(card, [...(goldLinks.get(card.dataset.article) ?? []), gold]);
}

function removeGoldLink(card, key) {
  setGoldLinks(card, (goldLinks.get(card.dataset.article) ?? []).filter((l) => linkKey(l) !== key));
}

// --- drawing the spans and links of a card -------------------------------------------

const button = (action, label, ...content) => {
  const b = el("button", "secondary small span-action", ...content);
  b.type = "button";
  b.dataset.action = action;
  if (label) b.setAttribute("aria-label", label);
  return b;
};

function renderArticle(article) {
  for (const card of cards) if (card.dataset.article === article) renderSpans(card);
}

/** One line per annotator (their spans inline, their links numbered), then the gold ones. */
function renderSpans(card) {
  const pid = card.dataset.paragraphId;
  const data = page.paragraphs[pid];
  const block = card.querySelector(".span-block");
  const gold = goldSpans.get(pid) ?? [];
  const links = (goldLinks.get(card.dataset.article) ?? []).filter((l) =>
    String(l.from.paragraph_id) === pid || String(l.to.paragraph_id) === pid);
  const anything = gold.length > 0 || links.length > 0 ||
    data.annotators.some((a) => a.spans.length > 0 || a.links.length > 0);
  block.hidden = !anything;
  if (!anything) return block.replaceChildren();
  const paragraphText = card.querySelector(".review-text").textContent;
  const names = page.spanLabels;
  let number = 0;
  const lines = data.annotators.map((annotator, i) => {
    const head = el("span", "span-who", i < 9 ? el("kbd", "", `⇧${i + 1}`) : "", " ", annotator.name);
    const accept = button("accept-spans", `${text.acceptSpans}: ${annotator.name}`, text.accept);
    accept.dataset.annotator = String(i);
    const line = el("div", "span-line", head,
      annotator.spans.length > 0 ? markedText(paragraphText, annotator.spans, names)
        : el("span", "span-none", text.noSpans), accept);
    const list = el("ol", "link-list");
    for (const link of annotator.links) {
      const item = el("li", "", el("span", "link-number", `${++number}.`), " ",
        linkText(link, text, names, page.relations));
      const take = button("accept-link", null, text.accept);
      take.dataset.annotator = String(i);
      take.dataset.link = String(annotator.links.indexOf(link));
      if (inGold(link, card.dataset.article)) { take.disabled = true; take.setAttribute("aria-pressed", "true"); }
      else if (!goldLink(link)) { take.disabled = true; take.title = text.needsEnds; }
      item.append(" ", take);
      list.append(item);
    }
    return el("div", "span-annotator", line, list.childElementCount ? list : "");
  });
  const goldLine = el("div", "span-line span-gold", el("span", "span-who", text.goldSpans),
    gold.length > 0 ? markedText(paragraphText, gold, names) : el("span", "span-none", text.noSpans));
  const removals = el("span", "gold-span-list");
  for (const span of gold) {
    const b = button("remove-span", `${text.remove}: ${names[span.label] ?? span.label} «${span.text ?? ""}»`,
      "× ", names[span.label] ?? span.label);
    b.dataset.start = String(span.start);
    b.dataset.end = String(span.end);
    b.dataset.label = span.label;
    removals.append(b);
  }
  goldLine.append(removals);
  const goldList = el("ol", "link-list gold-links");
  for (const link of links) {
    const b = button("remove-link", text.remove, "× ", text.remove);
    b.dataset.key = linkKey(link);
    goldList.append(el("li", "", linkText(link, text, names, page.relations), " ", b));
  }
  block.replaceChildren(...lines, goldLine,
    links.length ? el("div", "span-gold", el("span", "span-who", text.goldLinks), goldList) : "");
}

// --- moving ------------------------------------------------------------------------

function select(index) {
  if (index < 0 || index >= cards.length) return;
  if (current >= 0) cards[current].setAttribute("aria-selected", "false");
  current = index;
  cards[current].setAttribute("aria-selected", "true");
  cards[current].scrollIntoView({ block: "nearest" });
  const focused = document.activeElement;
  if (focused instanceof HTMLElement && focused.closest(".review-card") !== cards[current]) focused.blur();
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

/** `e`: the next button among the selected card's spans and links (Enter presses it). */
function focusNextAction() {
  const actions = [...cards[current].querySelectorAll(".span-action:not(:disabled)")];
  if (actions.length === 0) return;
  const at = actions.indexOf(document.activeElement);
  actions[(at + 1) % actions.length].focus();
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

// --- keyboard and mouse ------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  if (help.open) return; // the dialog handles its own keys (Esc closes it)
  const key = shortcutKey(event); // an input method's keys by their position (keys.js)
  const label = labelByHotkey.get(key);
  let handled = true;
  if (event.shiftKey && event.code.startsWith("Digit")) {
    // Shift+N: annotator N's spans (and their links) become gold; Shift+0 clears them
    const number = Number(unshifted(event));
    if (current < 0) return;
    if (number === 0) setGoldSpans(cards[current], []);
    else acceptAnnotator(cards[current], number - 1);
  } else if (label) goldAndAdvance(label);
  else if (key === "j" || key === "ArrowDown") select(current + 1);
  else if (key === "k" || key === "ArrowUp") select(current - 1);
  else if (key === "0" || key === "Backspace") { if (current >= 0) setGold(cards[current], ""); }
  else if (key === "e" && current >= 0) focusNextAction();
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
  const action = event.target.closest("[data-action]");
  const annotators = page.paragraphs[card.dataset.paragraphId]?.annotators ?? [];
  if (button) goldAndAdvance(button.dataset.label);
  else if (event.target.closest(".gold-clear")) setGold(card, "");
  else if (action?.dataset.action === "accept-spans") acceptAnnotator(card, Number(action.dataset.annotator));
  else if (action?.dataset.action === "accept-link") {
    acceptLink(card, annotators[Number(action.dataset.annotator)].links[Number(action.dataset.link)]);
  } else if (action?.dataset.action === "remove-span") {
    const { start, end, label } = action.dataset;
    setGoldSpans(card, (goldSpans.get(card.dataset.paragraphId) ?? []).filter((s) =>
      !sameSpan(s, { start: Number(start), end: Number(end), label })));
  } else if (action?.dataset.action === "remove-link") removeGoldLink(card, action.dataset.key);
});

document.getElementById("show-help").addEventListener("click", () => help.showModal());
window.addEventListener("online", () => saves.retryNow());
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) saves.retryNow(); // signed in again in another tab?
});
window.addEventListener("beforeunload", (event) => {
  if (unsaved().length > 0) event.preventDefault(); // the browser asks before leaving
});

for (const card of cards) renderSpans(card);
// Start on the first paragraph without a gold label.
if (cards.length > 0) select(Math.max(0, nextWithoutGold(-1)));
updateBanner();
