// paragraph.js: the parts of a paragraph the page draws only once it needs them, so a long
// article's HTML holds little more than its text: the meta line (label tag, suggestion, save
// state) and the note (from #note-template).

/** The paragraph's meta line, made (label tag and save state, both empty) if it has none. */
export function meta(para) {
  let line = para.querySelector(".para-meta");
  if (!line) {
    line = document.createElement("span");
    line.className = "para-meta";
    const tag = document.createElement("span");
    tag.className = "label-tag";
    tag.dataset.label = "";
    const state = document.createElement("span");
    state.className = "save-state";
    line.append(tag, state);
    para.querySelector(".para-body").prepend(line);
  }
  return line;
}

export const labelTag = (para) => meta(para).querySelector(".label-tag");
export const saveState = (para) => meta(para).querySelector(".save-state");

/** The paragraph's note text ("" without a note), without making a note field. */
export const noteText = (para) => para.querySelector(".note")?.value ?? "";

/** The paragraph's note field, made (hidden, empty) if it has none; after the toolbar. */
export function noteField(para) {
  let field = para.querySelector(".note");
  if (!field) {
    field = document.getElementById("note-template").content.firstElementChild.cloneNode();
    field.hidden = true;
    para.append(field);
  }
  return field;
}

/** Set the note's text; a paragraph without a note field gets one only for a note. */
export function setNote(para, value) {
  const field = para.querySelector(".note") ?? (value ? noteField(para) : null);
  if (!field) return;
  field.value = value;
  if (value) field.hidden = false;
}

/** The tag a paragraph shows for its label: hotkey and name (a removed label: its key).
 * labels: label key -> {hotkey, name}. */
export function fillTag(tag, label, labels) {
  tag.dataset.label = label ?? "";
  const info = labels.get(label);
  if (!label) tag.replaceChildren();
  else if (!info) tag.replaceChildren(label);
  else {
    const kbd = document.createElement("kbd");
    kbd.textContent = info.hotkey;
    tag.replaceChildren(kbd, ` ${info.name}`);
  }
}

function element(tag, className, text = "") {
  const made = document.createElement(tag);
  if (className) made.className = className;
  made.textContent = text;
  return made;
}

/**
 * A paragraph sent as data (annotate.later_paragraphs: [id, index, text, label, source, note,
 * suggestion]) drawn into the very <li> annotate.paragraph_items makes, text as text only.
 * view: {labels (key -> {hotkey, name}), saved, suggested (the page's words)}.
 */
export function draw([id, index, text, label = null, source = null, note = null, suggestion = null], view) {
  const para = element("li", "para");
  para.id = `p${index}`;
  para.dataset.paragraphId = id;
  para.dataset.label = label ?? "";
  para.dataset.state = label ? "saved" : "";
  if (label) para.dataset.source = source;
  if (suggestion) para.dataset.suggestion = suggestion[0];
  const number = element("span", "para-index", String(index + 1));
  number.setAttribute("aria-hidden", "true");
  const body = element("div", "para-body");
  if (label || suggestion) {
    const line = element("span", "para-meta");
    const tag = element("span", "label-tag");
    fillTag(tag, label, view.labels);
    line.append(tag);
    if (suggestion) {
      const [key, confidence, reason] = suggestion;
      const chip = element("span", "suggestion");
      chip.dataset.label = key;
      chip.title = `${reason} (${confidence})`;
      const words = element("span", "suggestion-chip",
        `${view.suggested} ${view.labels.get(key)?.name ?? key} ${confidence} `);
      words.append(element("kbd", null, "a"));
      const why = element("span", "suggestion-reason", reason);
      why.hidden = true;
      chip.append(words, " ", why);
      line.append(chip);
    }
    line.append(element("span", "save-state", label ? view.saved : ""));
    body.append(line);
  }
  const words = element("div", "para-text", text);
  words.dir = "auto";
  body.append(words);
  para.append(number, body);
  if (note) {
    const field = document.getElementById("note-template").content.firstElementChild.cloneNode();
    field.textContent = note;
    para.append(field);
  }
  return para;
}

/**
 * The paragraphs a long article sent as data (#later-paragraphs), drawn around the ones sent
 * as HTML (a window of the article, where the reader left off): a few at a time while the page
 * is idle, those before the window first, or at once up to the one a key needs. The drawn
 * paragraphs are always one run of the article, [base, base + drawn).
 * onDrawn(paras, before): called with each batch once it is in the list (before the others, or
 * after them).
 */
export class Later {
  constructor(list, view, onDrawn) {
    const data = document.getElementById("later-paragraphs");
    this.records = data ? JSON.parse(data.textContent) : []; // in article order, the window left out
    this.list = list;
    this.view = view;
    this.onDrawn = onDrawn;
    const first = list.firstElementChild;
    this.sent = list.children.length; // paragraphs sent as HTML
    this.from = first ? Number(first.id.slice(1)) : 0; // the article index of the first of them
    this.base = this.from; // the drawn run: [base, end)
    this.end = this.from + this.sent;
    this.total = this.records.length + this.sent;
    this.ids = new Map(this.records.map((record) => [String(record[0]), record[1]]));
    if (this.size > 0) this.#idle();
  }

  /** The record of the paragraph at article index i (one not sent as HTML). */
  record(i) { return this.records[i < this.from ? i : i - this.sent]; }

  /** How many paragraphs wait to be drawn; and how many of those are labeled. */
  get size() { return this.total - (this.end - this.base); }

  labeled() {
    let count = 0;
    for (let i = 0; i < this.base; i++) if (this.records[i][3]) count++;
    for (let i = this.end; i < this.total; i++) if (this.record(i)[3]) count++;
    return count;
  }

  /** Whether the paragraph at article index i, not drawn yet, is labeled. */
  isLabeled(i) { return Boolean(this.record(i)[3]); }

  /** Draw every paragraph between the drawn ones and the article's position `index`. */
  drawTo(index) {
    if (index < 0 || index >= this.total) return;
    if (index < this.base) {
      const batch = this.records.slice(index, this.base).map((record) => draw(record, this.view));
      this.base = index;
      // What is on screen stays there (Chromium anchors the scroll itself, but not at the top).
      const anchor = this.list.firstElementChild;
      const top = anchor.getBoundingClientRect().top;
      this.list.prepend(...batch);
      window.scrollBy({ top: anchor.getBoundingClientRect().top - top, behavior: "instant" });
      this.onDrawn(batch, true);
    } else if (index >= this.end) {
      const batch = [];
      for (let i = this.end; i <= index; i++) batch.push(draw(this.record(i), this.view));
      this.end = index + 1;
      this.list.append(...batch);
      this.onDrawn(batch, false);
    }
  }

  drawAll() {
    this.drawTo(0);
    this.drawTo(this.total - 1);
  }

  /** Draw up to the paragraph with this id, if it is one of these (the queue's kept changes). */
  drawFor(paragraphId) {
    const index = this.ids.get(String(paragraphId));
    if (index !== undefined) this.drawTo(index);
  }

  #idle() {
    const next = () => (this.base > 0 ? Math.max(0, this.base - 50) : Math.min(this.end + 49, this.total - 1));
    const step = (deadline) => {
      do this.drawTo(next());
      while (this.size > 0 && deadline.timeRemaining() > 5);
      if (this.size > 0) requestIdleCallback(step, { timeout: 200 });
    };
    requestIdleCallback(step, { timeout: 200 });
  }
}
