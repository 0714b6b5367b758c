// offsets.js: the one place converting between the browser's string indices (UTF-16 code units)
// and the server's offsets (code points, as Python indexes a str), and the one place finding
// where a caret may stand: between whole grapheme clusters (never inside a surrogate pair, an
// emoji ZWJ sequence or a letter and its combining mark), by word, or for CJK by clause.

const isHigh = (unit) => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit) => unit >= 0xdc00 && unit <= 0xdfff;

/** The code point offset of a UTF-16 index into `text`. */
export function toCodePoint(text, index) {
  let points = 0;
  for (let i = 0; i < index; i++) {
    if (!(isLow(text.charCodeAt(i)) && i > 0 && isHigh(text.charCodeAt(i - 1)))) points++;
  }
  return points;
}

/** The UTF-16 index of a code point offset into `text` (past the end: text.length). */
export function toUtf16(text, point) {
  let i = 0;
  for (let seen = 0; seen < point && i < text.length; seen++) {
    i += isHigh(text.charCodeAt(i)) && isLow(text.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

// Made on first use, not when the page loads: Chromium's first Intl.Segmenter loads ICU's
// break rules, 15-20 ms of a long article's load (50 ms on a busy machine) before a key works.
const segmenters = new Map();
const segmenter = (granularity) => {
  if (!segmenters.has(granularity)) segmenters.set(granularity, new Intl.Segmenter(undefined, { granularity }));
  return segmenters.get(granularity);
};
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const CLAUSE_END = /[。！？；，、：．｡､…,.;:!?]/u; // full-width and half-width
const CLOSING = /[\p{Pe}\p{Pf}]/u;

/** Where a caret may stand in `text`: the UTF-16 index of every grapheme cluster boundary. */
export function graphemeStops(text) {
  const stops = [...segmenter("grapheme").segment(text)].map((segment) => segment.index);
  stops.push(text.length);
  return stops;
}

/**
 * Where Ctrl/Alt+arrows stop in `text`, as UTF-16 indices: {forward, backward}, each sorted.
 * Outside CJK: the ends (forward) and starts (backward) of words, as Intl.Segmenter finds them;
 * in CJK text, whose "words" are a character or two, after each clause's punctuation
 * (。！？；，、 and their half-width forms) and at the ends of a CJK run.
 */
export function wordStops(text) {
  const forward = new Set([text.length]);
  const backward = new Set([0]);
  let previousCjk = false;
  for (const { segment, index, isWordLike } of segmenter("word").segment(text)) {
    const end = index + segment.length;
    const cjk = CJK.test(segment);
    if (cjk) {
      if (!previousCjk) backward.add(index);
    } else {
      if (isWordLike) { // a word (or number) in CJK text also ends the CJK run before it
        if (previousCjk) forward.add(index);
        backward.add(index);
        forward.add(end);
      }
    }
    if (previousCjk && !isWordLike && CLAUSE_END.test(segment)) { // a clause ends: after its punctuation
      let after = end; // and after the quotes and brackets it closes: 。” 。）
      while (after < text.length && CLOSING.test(text[after])) after++;
      forward.add(after);
      backward.add(after);
    }
    if (cjk || isWordLike) previousCjk = cjk; // spaces and punctuation keep the run going
  }
  const sorted = (set) => [...set].sort((a, b) => a - b);
  return { forward: sorted(forward), backward: sorted(backward) };
}

/** The first stop after `index`, or the last before it (`direction` -1); `index` if none. */
export function nextStop(stops, index, direction) {
  if (direction > 0) return stops.find((stop) => stop > index) ?? index;
  return stops.findLast((stop) => stop < index) ?? index;
}

/** [start, end) in UTF-16 widened to whole grapheme clusters of `text`. */
export function snap(text, start, end, stops = graphemeStops(text)) {
  return [stops.findLast((stop) => stop <= start) ?? 0, stops.find((stop) => stop >= end) ?? text.length];
}

/** The UTF-16 index into `container`'s text of a DOM position (node, offset) inside it. */
export function domIndex(container, node, offset) {
  const range = document.createRange();
  range.setStart(container, 0);
  range.setEnd(node, offset);
  return range.toString().length; // the text nodes' code units before the position
}

/**
 * The page's selection as code point offsets {start, end} into `container`'s text (whose DOM
 * text is exactly the paragraph's text), snapped outwards to whole grapheme clusters; null
 * when nothing is selected inside it.
 */
export function selectionIn(container, text) {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed || selection.rangeCount === 0) return null;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
  const [start, end] = snap(text, domIndex(container, range.startContainer, range.startOffset),
    domIndex(container, range.endContainer, range.endOffset));
  if (start === end) return null;
  return { start: toCodePoint(text, start), end: toCodePoint(text, end) };
}
