// links.js: links between the units of an article (a paragraph or a span). From the current
// unit, a picker lists the article's claims, numbered: a digit or ↑/↓ and Enter links to one
// with the relation chosen by its key (the project's first, "supports", unless another is
// pressed); Delete removes a link. The current unit shows what it links to and what links to
// it. The article's whole list is saved at once (PUT /api/articles/<id>/links) through the
// page's save queue, retried like labels.
import { request } from "./api.js";
import { shortcutKey } from "./keys.js";
import { paragraphUnit, parseUnit, spanUnit } from "./spans.js";

const EXCERPT = 60; // characters of a unit's text shown in a list

/** A unit as the save queue keeps a link's end: a paragraph, or a span by what it is (its id
 * may not exist yet when the link is made offline). */
function toEnd(unit) {
  const { paragraphId, span } = parseUnit(unit);
  return span ? { paragraph_id: Number(paragraphId), ...span } : { paragraph_id: Number(paragraphId) };
}

const fromEnd = (end) => (end.label === undefined ? paragraphUnit(end.paragraph_id)
  : spanUnit(end.paragraph_id, end));

export class Links {
  /**
   * page: the page data (links, relations, texts); spans: the page's Spans; byId: paragraph id
   * -> its .para; currentUnit(): the unit links start from; say(message, kind): the banner.
   */
  constructor(page, queue, spans, byId, { currentUnit, say }) {
    this.page = page;
    this.text = page.text;
    this.queue = queue;
    this.spans = spans;
    this.byId = byId;
    this.currentUnit = currentUnit;
    this.say = say;
    this.relations = new Map(page.relations.map((relation) => [relation.key, relation]));
    this.byHotkey = new Map(page.relations.map((relation) => [relation.hotkey, relation.key]));
    this.claim = page.spanLabels[0]?.key ?? "claim"; // what the picker lists: claim by default
    this.id = `links-${page.articleId}`;
    this.list = this.#fromServer(page.links); // [{from, to, relation}], ends as unit keys
    this.picker = document.getElementById("link-picker");
    this.options = document.getElementById("link-options");
    this.shown = []; // the picker's units, in order
    this.active = 0;
    this.relation = null;
    this.#wirePicker();
  }

  /** The server's links (ends as paragraph or span ids) with unit keys for ends. */
  #fromServer(links) {
    const unit = (end) => {
      if (end.paragraph_id !== undefined) return paragraphUnit(end.paragraph_id);
      const found = this.spans.byServerId(end.span_id);
      return found ? spanUnit(found.paragraphId, found.span) : null;
    };
    return links.map((link) => ({ from: unit(link.from), to: unit(link.to), relation: link.relation }))
      .filter((link) => link.from && link.to);
  }

  /** Changes kept from an earlier visit: shown as pending until the server confirms them. */
  restore() {
    const entry = this.queue.entries().find(([id]) => id === this.id)?.[1];
    if (!entry) return;
    this.list = entry.links.map(({ from, to, relation }) => ({ from: fromEnd(from), to: fromEnd(to), relation }));
    this.showState("pending");
  }

  // --- saving ----------------------------------------------------------------------

  #save() {
    this.queue.putKind(this.id, { kind: "links", articleId: this.page.articleId, links: this.list.map(
      ({ from, to, relation }) => ({ from: toEnd(from), to: toEnd(to), relation })) });
    this.showCurrent();
  }

  /**
   * The save queue's request for an article's links: each span end is sent as its server id,
   * read from this page or, for another article's links kept in this browser, from the server;
   * a span not stored yet (its save is still waiting) makes this attempt fail, to be retried.
   */
  async send(id, entry) {
    const articleId = id.slice("links-".length);
    let idOf = (end) => this.spans.idOf(end.paragraph_id, end);
    if (articleId !== String(this.page.articleId)) {
      const response = await request("GET", `/api/articles/${articleId}`);
      if (!response.ok) return response; // gone (404: given up), or signed out (401: kept)
      const ids = new Map((await response.json()).paragraphs.flatMap((paragraph) =>
        (paragraph.spans ?? []).map((span) => [spanUnit(paragraph.id, span), span.id])));
      idOf = (end) => ids.get(spanUnit(end.paragraph_id, end));
    }
    const wire = (end) => {
      if (end.label === undefined) return { paragraph_id: end.paragraph_id };
      const spanId = idOf(end);
      if (spanId === undefined) throw new Error("a linked span is not saved yet");
      return { span_id: spanId };
    };
    const links = entry.links.map(({ from, to, relation }) => ({ from: wire(from), to: wire(to), relation }));
    return request("PUT", `/api/articles/${articleId}/links`, { links });
  }

  /** The queue's news of the links; a refused list is replaced by the server's. */
  onState(state) {
    if (state === "rejected") this.#reload();
    this.showState(state);
  }

  showState(state) {
    const shown = document.getElementById("links-state");
    shown.dataset.state = state;
    shown.textContent = this.text.linkState.replace("{state}", this.text[state] ?? state);
    shown.hidden = false;
  }

  async #reload() {
    const response = await request("GET", `/api/articles/${this.page.articleId}`).catch(() => null);
    const links = response?.ok ? (await response.json()).links : null;
    if (!links) return;
    this.list = this.#fromServer(links);
    this.showCurrent();
  }

  /** Spans changed (spans.js): drop the links of removed spans, follow relabeled ones. */
  unitsChanged(removed, renamed) {
    const gone = new Set(removed);
    const before = JSON.stringify(this.list);
    this.list = this.list.filter((link) => !gone.has(link.from) && !gone.has(link.to)).map((link) => ({
      ...link, from: renamed.get(link.from) ?? link.from, to: renamed.get(link.to) ?? link.to }));
    if (JSON.stringify(this.list) !== before) this.#save();
  }

  // --- showing ---------------------------------------------------------------------

  /** "¶10 [Claim] «text…»" or "¶10 «text…»": a unit in words. */
  describe(unit) {
    const { paragraphId, span } = parseUnit(unit);
    const para = this.byId.get(paragraphId);
    const number = `¶${Number(para?.id.slice(1) ?? 0) + 1}`; // id: p<index>
    const whole = span ? this.spans.textOf(paragraphId, span)
      : para?.querySelector(".para-text").textContent ?? "";
    const excerpt = whole.length > EXCERPT ? `${whole.slice(0, EXCERPT)}…` : whole;
    return span ? `${number} [${this.spans.name(span.label)}] «${excerpt}»` : `${number} «${excerpt}»`;
  }

  #relationName(key) {
    return this.relations.get(key)?.name ?? key;
  }

  /** Under the current paragraph: what the current unit links to, and what links to it. */
  showCurrent() {
    const box = document.getElementById("unit-links");
    const unit = this.currentUnit();
    const items = [];
    for (const link of this.list) {
      let line = null;
      if (link.from === unit) line = this.text.linkOut.replace("{unit}", this.describe(link.to));
      else if (link.to === unit) line = this.text.linkIn.replace("{unit}", this.describe(link.from));
      if (!line) continue;
      const item = document.createElement("li");
      item.textContent = line.replace("{relation}", this.#relationName(link.relation));
      item.dataset.relation = link.relation;
      items.push(item);
    }
    box.replaceChildren(...items);
    box.hidden = items.length === 0;
  }

  // --- the picker ------------------------------------------------------------------

  /** The article's claims (paragraphs labeled claim, claim spans) in reading order, and any
   * other unit linked with `unit`; never `unit` itself. */
  #targets(unit) {
    const units = [];
    for (const para of this.byId.values()) {
      const paragraphId = para.dataset.paragraphId;
      if (para.dataset.label === this.claim) units.push(paragraphUnit(paragraphId));
      for (const span of this.spans.of(paragraphId)) {
        if (span.label === this.claim) units.push(spanUnit(paragraphId, span));
      }
    }
    for (const link of this.list) {
      if (link.from === unit) units.push(link.to);
      if (link.to === unit) units.push(link.from);
    }
    return [...new Set(units)].filter((other) => other !== unit);
  }

  open() {
    const unit = this.currentUnit();
    if (!unit) return;
    this.from = unit;
    this.relation = this.page.relations[0]?.key ?? null;
    this.active = 0;
    document.getElementById("link-picker-from").textContent = this.text.linkFrom.replace("{unit}", this.describe(unit));
    this.#fill();
    this.picker.showModal();
    this.options.focus();
  }

  #fill() {
    this.shown = this.#targets(this.from);
    const items = this.shown.map((unit, i) => {
      const item = document.createElement("li");
      item.id = `link-option-${i}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(i === this.active));
      item.dataset.unit = unit;
      const number = document.createElement("kbd");
      number.textContent = i < 9 ? String(i + 1) : "↓";
      const link = this.list.find((l) => (l.from === this.from && l.to === unit) || (l.to === this.from && l.from === unit));
      const state = document.createElement("span");
      state.className = "link-state";
      if (link) {
        state.textContent = (link.from === this.from ? this.text.pickerOut : this.text.pickerIn)
          .replace("{relation}", this.#relationName(link.relation));
      }
      item.append(number, " ", this.describe(unit), " ", state);
      return item;
    });
    if (items.length === 0) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = this.text.noClaims;
      items.push(empty);
    }
    this.options.replaceChildren(...items);
    if (this.shown.length) this.options.setAttribute("aria-activedescendant", `link-option-${this.active}`);
    else this.options.removeAttribute("aria-activedescendant");
    for (const button of this.picker.querySelectorAll(".relation-button")) {
      button.setAttribute("aria-pressed", String(button.dataset.relation === this.relation));
    }
  }

  /** Link the picker's unit to the chosen one with the chosen relation; the same link again
   * removes it. */
  #choose(index) {
    const to = this.shown[index];
    if (!to) return;
    const from = this.from;
    const same = this.list.find((l) => l.from === from && l.to === to && l.relation === this.relation);
    this.list = this.list.filter((l) => !(l.from === from && l.to === to));
    if (same) {
      this.say(this.text.unlinked.replace("{unit}", this.describe(to)), "info");
    } else {
      this.list.push({ from, to, relation: this.relation });
      this.say(this.text.linked.replace("{relation}", this.#relationName(this.relation))
        .replace("{unit}", this.describe(to)), "info");
    }
    this.picker.close();
    this.#save();
  }

  /** Delete: remove the links between the picker's unit and the highlighted one. */
  #unlink(index) {
    const other = this.shown[index];
    if (!other) return;
    const before = this.list.length;
    this.list = this.list.filter((l) => !((l.from === this.from && l.to === other) || (l.to === this.from && l.from === other)));
    if (this.list.length === before) return;
    this.say(this.text.unlinked.replace("{unit}", this.describe(other)), "info");
    this.#save();
    this.#fill();
  }

  #wirePicker() {
    this.picker.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const key = shortcutKey(event);
      if (/^[1-9]$/.test(key)) this.#choose(Number(key) - 1);
      else if (key === "ArrowDown" || key === "ArrowUp") {
        if (this.shown.length === 0) return;
        this.active = (this.active + (key === "ArrowDown" ? 1 : -1) + this.shown.length) % this.shown.length;
        this.#fill();
        document.getElementById(`link-option-${this.active}`)?.scrollIntoView({ block: "nearest" });
      } else if (key === "Enter") this.#choose(this.active);
      else if (key === "Delete" || key === "Backspace") this.#unlink(this.active);
      else if (this.byHotkey.has(key)) {
        this.relation = this.byHotkey.get(key);
        this.#fill();
      } else return; // Esc closes the dialog by itself
      event.preventDefault();
      event.stopPropagation(); // the page's own shortcuts must not see it (the dialog may be closed now)
    });
    this.options.addEventListener("click", (event) => {
      const item = event.target.closest("[role=option]");
      if (item) this.#choose(this.shown.indexOf(item.dataset.unit));
    });
    for (const button of this.picker.querySelectorAll(".relation-button")) {
      button.addEventListener("click", () => {
        this.relation = button.dataset.relation;
        this.#fill();
        this.options.focus();
      });
    }
    this.picker.addEventListener("close", () => this.showCurrent());
  }
}
