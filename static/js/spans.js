// spans.js: spans inside paragraphs. How they show (inline, each labeled in words by its
// first piece, nested and crossing ones readable), span mode (a caret moved by character, word
// or CJK clause, Shift extending, a span-label hotkey marking, Tab and Delete) and the mouse's
// selection. Every change is saved at once through the page's save queue (retried like labels).
// Offsets here are UTF-16 indices into the paragraph's text; offsets.js converts them to the
// code points the server stores, and nothing else does.
import { request } from "./api.js";
import { domIndex, graphemeStops, nextStop, selectionIn, snap, toCodePoint, toUtf16, wordStops } from "./offsets.js";
import { saveState } from "./paragraph.js";

/** A unit's key, as links name it: "p<paragraphId>" or "s<paragraphId>:<start>:<end>:<label>"
 * (a span by what it is, so a link made offline can name a span the server has not stored). */
export const paragraphUnit = (paragraphId) => `p${paragraphId}`;
export const spanUnit = (paragraphId, { start, end, label }) => `s${paragraphId}:${start}:${end}:${label}`;

/** {paragraphId, span?: {start, end, label}} of a unit key. */
export function parseUnit(unit) {
  if (unit.startsWith("p")) return { paragraphId: unit.slice(1) };
  const [paragraphId, start, end, label] = unit.slice(1).split(":");
  return { paragraphId, span: { start: Number(start), end: Number(end), label } };
}

const bySpanOrder = (a, b) => a.start - b.start || b.end - a.end || a.label.localeCompare(b.label);

export class Spans {
  /**
   * page: the page data (spanLabels, spans by paragraph id, texts); queue: the SaveQueue;
   * byId: paragraph id -> its .para; say(message, kind): the banner; onChange(paragraphId,
   * removed, renamed): spans of a paragraph changed (removed: unit keys gone; renamed: old key ->
   * new key), for the links; onSelect(): the selected span changed.
   */
  constructor(page, queue, byId, { say, onChange, onSelect }) {
    this.page = page;
    this.text = page.text;
    this.queue = queue;
    this.byId = byId;
    this.say = say;
    this.onChange = onChange;
    this.onSelect = onSelect;
    this.labels = new Map(page.spanLabels.map((label) => [label.key, label]));
    this.byHotkey = new Map(page.spanLabels.map((label) => [label.hotkey, label.key]));
    this.spans = new Map(); // paragraph id -> [{start, end, label}] in code points
    this.ids = new Map(); // unit key -> the server's span id
    this.units = new Map(); // the server's span id -> unit key
    this.texts = new Map(); // paragraph id -> its text, read from the page before spans are drawn
    this.mode = null; // span mode: {para, id, text, stops, words, anchor, caret, selected}
    for (const [paragraphId, spans] of Object.entries(page.spans)) {
      for (const span of spans) this.#know(spanUnit(paragraphId, span), span.id);
      this.spans.set(paragraphId, spans.map(({ start, end, label }) => ({ start, end, label })).sort(bySpanOrder));
    }
  }

  /** A paragraph's spans (code points), by start. */
  of(paragraphId) {
    return this.spans.get(String(paragraphId)) ?? [];
  }

  /** The server's id of a span, or undefined while it is not stored. */
  idOf(paragraphId, span) {
    return this.ids.get(spanUnit(paragraphId, span));
  }

  /** The span with this server id, as {paragraphId, span}, or null. */
  byServerId(spanId) {
    const unit = this.units.get(spanId);
    return unit ? parseUnit(unit) : null;
  }

  #know(unit, spanId) {
    this.ids.set(unit, spanId);
    this.units.set(spanId, unit);
  }

  /** The text of a span (code point offsets into its paragraph's text). */
  textOf(paragraphId, { start, end }) {
    const text = this.#paragraphText(paragraphId);
    return text.slice(toUtf16(text, start), toUtf16(text, end));
  }

  name(label) {
    return this.labels.get(label)?.name ?? label;
  }

  /** Show the spans of every paragraph that has some, each as it comes near the screen (at
   * start; changes redraw one): drawn at once, 2,000 spans of a long article cost its start
   * ~0.5 s of style and layout (bench/span_article.py). */
  renderAll() {
    const observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        observer.unobserve(entry.target);
        this.render(entry.target.dataset.paragraphId);
      }
    }, { rootMargin: "1500px 0px" });
    for (const paragraphId of this.spans.keys()) {
      const para = this.byId.get(paragraphId);
      if (para) observer.observe(para);
    }
  }

  /** Changes kept from an earlier visit: shown as pending until the server confirms them. */
  restore(paragraphId, entry) {
    if (!this.byId.has(paragraphId)) return;
    this.spans.set(paragraphId, [...entry.spans].sort(bySpanOrder));
    this.showState(paragraphId, "pending");
    this.render(paragraphId);
  }

  // --- saving ----------------------------------------------------------------------

  /** Make `spans` the paragraph's spans, show them and save them. */
  #change(paragraphId, spans, removed = [], renamed = new Map()) {
    this.spans.set(paragraphId, [...spans].sort(bySpanOrder));
    this.render(paragraphId);
    this.queue.putKind(`spans-${paragraphId}`, { kind: "spans", spans: this.of(paragraphId) });
    this.onChange(paragraphId, removed, renamed);
  }

  /** The save queue's request for a paragraph's spans (its id: "spans-<paragraphId>"). */
  static send(id, entry) {
    const spans = entry.spans.map(({ start, end, label }) => ({ start, end, label }));
    return request("PUT", `/api/paragraphs/${id.slice("spans-".length)}/spans`, { spans });
  }

  /** The queue's news of a paragraph's spans; saved: the server's spans, with their ids. */
  onState(paragraphId, state, body) {
    if (state === "saved" && body?.spans) this.#stored(paragraphId, body.spans);
    if (state === "rejected") this.#reload(paragraphId);
    this.showState(paragraphId, state);
  }

  showState(paragraphId, state) {
    const para = this.byId.get(paragraphId);
    if (!para) return;
    para.dataset.spanState = state;
    let shown = para.querySelector(".span-state");
    if (!shown) {
      shown = document.createElement("span");
      shown.className = "span-state";
      saveState(para).after(shown);
    }
    shown.textContent = this.text.spanState.replace("{state}", this.text[state] ?? state);
  }

  #stored(paragraphId, spans) {
    const key = String(paragraphId);
    if (!this.byId.has(key)) return; // another article's, saved from this page's queue
    for (const [unit, spanId] of [...this.ids]) {
      if (unit.startsWith(`s${key}:`)) {
        this.ids.delete(unit);
        this.units.delete(spanId);
      }
    }
    for (const span of spans) this.#know(spanUnit(key, span), span.id);
    if (!this.spans.has(key) || this.queue.entries().every(([id]) => id !== `spans-${key}`)) {
      this.spans.set(key, spans.map(({ start, end, label }) => ({ start, end, label })).sort(bySpanOrder));
      this.render(key);
    }
  }

  /** A refused change: show what the server has again. */
  async #reload(paragraphId) {
    const response = await request("GET", `/api/articles/${this.page.articleId}`).catch(() => null);
    const paragraph = response?.ok ? (await response.json()).paragraphs
      .find((p) => String(p.id) === paragraphId) : null;
    if (!paragraph?.spans) return;
    const units = (spans) => spans.map((span) => spanUnit(paragraphId, span));
    const kept = new Set(units(paragraph.spans));
    const removed = units(this.of(paragraphId)).filter((unit) => !kept.has(unit));
    this.spans.delete(paragraphId);
    this.#stored(paragraphId, paragraph.spans);
    if (removed.length) this.onChange(paragraphId, removed, new Map()); // their links go too
  }

  // --- showing ---------------------------------------------------------------------

  #paragraphText(paragraphId) {
    const key = String(paragraphId);
    if (!this.texts.has(key)) this.texts.set(key, this.byId.get(key)?.querySelector(".para-text").textContent ?? "");
    return this.texts.get(key);
  }

  /**
   * Draw a paragraph's text as segments: each piece of text inside the <mark>s of the spans
   * covering it, outer spans first, so nested spans nest and only crossing ones split. A span's
   * first piece shows its label's name and its last a closing bracket (CSS, from data-name), so
   * the DOM text stays exactly the paragraph's text. In span mode, the selection and the caret
   * (an empty element) are drawn in too. Built with textContent only, never HTML.
   */
  render(paragraphId) {
    const para = this.byId.get(String(paragraphId));
    if (!para) return;
    const text = this.#paragraphText(paragraphId);
    const container = para.querySelector(".para-text");
    const mode = this.mode?.para === para ? this.mode : null;
    const spans = this.of(paragraphId).map((span) => ({
      ...span, unit: spanUnit(paragraphId, span), from: toUtf16(text, span.start), to: toUtf16(text, span.end) }));
    const [selFrom, selTo] = mode ? [Math.min(mode.anchor, mode.caret), Math.max(mode.anchor, mode.caret)] : [0, 0];
    const cuts = new Set([0, text.length, ...spans.flatMap((s) => [s.from, s.to])]);
    if (mode) [selFrom, selTo, mode.caret].forEach((cut) => cuts.add(cut));
    const bounds = [...cuts].sort((a, b) => a - b);
    const root = document.createDocumentFragment();
    const last = new Map(); // span unit -> its last mark
    let open = []; // [{span, element}] from the outermost
    for (let i = 0; i < bounds.length; i++) {
      const [from, to] = [bounds[i], bounds[i + 1] ?? bounds[i]];
      if (mode && from === mode.caret) {
        const caret = document.createElement("span");
        caret.className = "span-caret";
        (open.at(-1)?.element ?? root).append(caret);
      }
      if (to === from) continue;
      const covering = spans.filter((s) => s.from <= from && s.to >= to);
      let kept = 0;
      while (kept < open.length && kept < covering.length && open[kept].span === covering[kept]) kept++;
      open = open.slice(0, kept);
      for (const span of covering.slice(kept)) {
        const element = document.createElement("mark");
        element.className = "span-mark";
        element.dataset.label = span.label;
        element.dataset.unit = span.unit;
        if (span.from === from) {
          element.classList.add("span-first");
          element.dataset.name = this.name(span.label);
        }
        if (mode?.selected === span.unit) element.classList.add("span-selected");
        (open.at(-1)?.element ?? root).append(element);
        open.push({ span, element });
        last.set(span.unit, element);
      }
      let piece = document.createTextNode(text.slice(from, to));
      if (from >= selFrom && to <= selTo && selFrom < selTo) {
        const selected = document.createElement("span");
        selected.className = "span-selection";
        selected.append(piece);
        piece = selected;
      }
      (open.at(-1)?.element ?? root).append(piece);
    }
    for (const element of last.values()) element.classList.add("span-last");
    container.replaceChildren(root);
    para.classList.toggle("has-spans", spans.length > 0);
  }

  // --- span mode -------------------------------------------------------------------

  /** The span selected in span mode (its unit key), or null. */
  selectedUnit() {
    return this.mode?.selected ?? null;
  }

  get active() {
    return this.mode !== null;
  }

  /** Enter span mode on a paragraph; `selection` {start, end} in code points (the mouse's). */
  enter(para, selection = null) {
    if (this.mode?.para !== para) this.leave();
    const paragraphId = para.dataset.paragraphId;
    const text = this.#paragraphText(paragraphId);
    const [anchor, caret] = selection ? [toUtf16(text, selection.start), toUtf16(text, selection.end)] : [0, 0];
    this.mode = { para, paragraphId, text, stops: graphemeStops(text), words: wordStops(text),
                  anchor, caret, selected: null };
    para.classList.add("span-mode");
    this.#show();
  }

  leave() {
    if (!this.mode) return;
    const { para, paragraphId } = this.mode;
    this.mode = null;
    para.classList.remove("span-mode");
    this.render(paragraphId);
    this.#status();
    this.onSelect();
  }

  /** A key in span mode: true if it was span mode's (the page then does nothing more). */
  handleKey(event, key) {
    if (!this.mode) return false;
    const mode = this.mode;
    const byWord = event.ctrlKey || event.altKey;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      const direction = key === "ArrowRight" ? 1 : -1;
      const stops = byWord ? mode.words[direction > 0 ? "forward" : "backward"] : mode.stops;
      this.#moveCaret(nextStop(stops, mode.caret, direction), event.shiftKey);
    } else if (key === "Home" || key === "End") {
      this.#moveCaret(key === "Home" ? 0 : mode.text.length, event.shiftKey);
    } else if (event.ctrlKey || event.metaKey || event.altKey) {
      return false;
    } else if (this.byHotkey.has(key)) {
      this.#mark(this.byHotkey.get(key));
    } else if (key === "Tab") {
      this.#cycle(event.shiftKey ? -1 : 1);
    } else if (key === "Delete" || key === "Backspace") {
      this.#remove();
    } else if (key === "Escape" || key === "s") {
      this.leave();
    } else if (["ArrowUp", "ArrowDown", "j", "k"].includes(key)) {
      this.leave();
      return false; // the page moves to another paragraph
    } else {
      return false;
    }
    return true;
  }

  #moveCaret(caret, extend) {
    const mode = this.mode;
    mode.caret = caret;
    if (!extend) mode.anchor = caret;
    if (mode.selected) {
      mode.selected = null;
      this.onSelect();
    }
    this.#show();
  }

  /** The selection in code points, or null when it is empty. */
  #selection() {
    const { text, anchor, caret } = this.mode;
    if (anchor === caret) return null;
    return { start: toCodePoint(text, Math.min(anchor, caret)), end: toCodePoint(text, Math.max(anchor, caret)) };
  }

  /** A span-label hotkey: relabel the selected span, or mark the selection, with `label`. */
  #mark(label) {
    const { paragraphId, selected } = this.mode;
    const spans = this.of(paragraphId);
    const old = selected ? parseUnit(selected).span : null;
    const selection = this.#selection();
    const wanted = old ? { ...old, label } : selection && { ...selection, label };
    if (!wanted) {
      this.say(this.text.spanSelectFirst, "info");
      return;
    }
    if (old?.label === label) return;
    const others = old ? spans.filter((s) => spanUnit(paragraphId, s) !== selected) : spans;
    if (others.some((s) => s.start === wanted.start && s.end === wanted.end && s.label === label)) {
      this.#select(spanUnit(paragraphId, wanted)); // already there
      return;
    }
    if (others.some((s) => s.label === label && s.start < wanted.end && wanted.start < s.end)) {
      this.say(this.text.spanOverlaps.replace("{label}", this.name(label)), "warning");
      return;
    }
    const unit = spanUnit(paragraphId, wanted);
    this.#change(paragraphId, [...others, wanted], [], old ? new Map([[selected, unit]]) : new Map());
    this.say(this.text.spanMarked.replace("{label}", this.name(label))
      .replace("{text}", this.textOf(paragraphId, wanted)), "info");
    this.#select(unit);
  }

  /** Tab: select the next (or previous) span of the paragraph, by start. */
  #cycle(direction) {
    const { paragraphId, selected } = this.mode;
    const units = this.of(paragraphId).map((span) => spanUnit(paragraphId, span));
    if (units.length === 0) {
      this.say(this.text.noSpans, "info");
      return;
    }
    const at = units.indexOf(selected);
    const next = at === -1 ? (direction > 0 ? 0 : units.length - 1) : (at + direction + units.length) % units.length;
    this.#select(units[next]);
  }

  #select(unit) {
    const mode = this.mode;
    const { span } = parseUnit(unit);
    mode.selected = unit;
    mode.anchor = toUtf16(mode.text, span.start);
    mode.caret = toUtf16(mode.text, span.end);
    this.#show();
    this.onSelect();
  }

  /** Delete/Backspace: remove the selected span (its links go with it). */
  #remove() {
    const { paragraphId, selected } = this.mode;
    if (!selected) {
      this.say(this.text.spanNoneSelected, "info");
      return;
    }
    const spans = this.of(paragraphId).filter((span) => spanUnit(paragraphId, span) !== selected);
    const { span } = parseUnit(selected);
    this.mode.selected = null;
    this.#change(paragraphId, spans, [selected]);
    this.say(this.text.spanRemoved.replace("{label}", this.name(span.label)), "info");
    this.onSelect();
  }

  #show() {
    this.render(this.mode.paragraphId);
    this.#status();
  }

  /** The line under the current paragraph saying what span mode holds, in words. */
  #status() {
    const status = document.getElementById("span-status");
    if (!this.mode) {
      status.hidden = true;
      status.textContent = "";
      return;
    }
    const { paragraphId, text, anchor, caret, selected } = this.mode;
    const chosen = text.slice(Math.min(anchor, caret), Math.max(anchor, caret));
    let line = this.text.spanMode;
    if (selected) {
      const { span } = parseUnit(selected);
      const at = this.of(paragraphId).findIndex((s) => spanUnit(paragraphId, s) === selected);
      line = this.text.spanSelected.replace("{n}", at + 1).replace("{count}", this.of(paragraphId).length)
        .replace("{label}", this.name(span.label)).replace("{text}", chosen);
    } else if (chosen) {
      line = this.text.spanChosen.replace("{text}", chosen);
    }
    status.textContent = line;
    status.hidden = false;
  }

  // --- the mouse -------------------------------------------------------------------

  /** A mouse selection inside one paragraph's text: span mode on it, snapped to whole
   * characters; true if there was one. */
  fromMouse(para) {
    const selection = selectionIn(para.querySelector(".para-text"), this.#paragraphText(para.dataset.paragraphId));
    if (!selection) return false;
    window.getSelection().removeAllRanges(); // drawn by span mode now, snapped
    this.enter(para, selection);
    return true;
  }

  /** A click in span mode's paragraph: the caret goes there, before the character clicked. */
  clickAt(para) {
    const selection = window.getSelection();
    const container = para.querySelector(".para-text");
    if (this.mode?.para !== para || !selection?.rangeCount) return;
    const { startContainer, startOffset } = selection.getRangeAt(0);
    if (!container.contains(startContainer)) return;
    const [caret] = snap(this.mode.text, domIndex(container, startContainer, startOffset), 0, this.mode.stops);
    this.#moveCaret(caret, false);
  }
}
