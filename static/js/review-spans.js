// review-spans.js: draw spans and links on the review page, text only (textContent, never
// innerHTML). Offsets count code points, as the server stores them: Array.from(text) indexes
// them (a UTF-16 string would split an emoji or a CJK Extension B character in two).

const QUOTE_CHARS = 40;

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

/** The paragraph's text with `spans` marked inline: "[Claim …]", nested and overlapping ones
 * readable by their brackets and label names (colour only helps). */
export function markedText(text, spans, labelNames) {
  const chars = Array.from(text);
  const points = new Set([0, chars.length]);
  for (const span of spans) points.add(span.start).add(span.end);
  const sorted = [...points].sort((a, b) => a - b);
  const line = el("span", "marked-text");
  for (let i = 0; i < sorted.length; i++) {
    const at = sorted[i];
    for (const span of spans.filter((s) => s.end === at).reverse()) {
      line.append(el("span", "span-close", "]"));
      line.lastChild.dataset.label = span.label;
      line.lastChild.setAttribute("aria-hidden", "true");
    }
    const opening = spans.filter((s) => s.start === at).sort((a, b) => b.end - a.end);
    for (const span of opening) {
      const tag = el("span", "span-open", "[", el("span", "span-name", labelNames[span.label] ?? span.label));
      tag.dataset.label = span.label;
      line.append(tag);
    }
    if (i + 1 === sorted.length) break;
    const piece = chars.slice(at, sorted[i + 1]).join("");
    const covering = spans.filter((s) => s.start <= at && s.end >= sorted[i + 1]);
    if (covering.length === 0) {
      line.append(piece);
    } else {
      const mark = el("mark", "review-mark", piece);
      mark.dataset.label = covering[covering.length - 1].label;
      mark.dataset.depth = String(covering.length);
      line.append(mark);
    }
  }
  return line;
}

/** A span's text for a quote, cut at QUOTE_CHARS code points. */
function cut(text) {
  const chars = Array.from(text);
  return chars.length > QUOTE_CHARS ? `${chars.slice(0, QUOTE_CHARS).join("")}…` : text;
}

/** One end of a link as words: "Claim «…» in ¶ 3" or "¶ 3". */
export function endText(end, messages, labelNames) {
  const n = String(end.index + 1);
  if (!end.span) return messages.paragraph.replace("{n}", n);
  return messages.span.replace("{label}", labelNames[end.span.label] ?? end.span.label)
    .replace("{text}", cut(end.span.text)).replace("{n}", n);
}

/** A link as a sentence of three parts: from, relation, to. */
export function linkText(link, messages, labelNames, relationNames) {
  return el("span", "link-text", endText(link.from, messages, labelNames), " ",
    el("strong", "relation", relationNames[link.relation] ?? link.relation), " ",
    endText(link.to, messages, labelNames));
}

export { el };
