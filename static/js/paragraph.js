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
