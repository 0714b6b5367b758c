// keys.js: which shortcut a key press means, also with an input method (Pinyin...) switched on.
// Such a method turns keys into "Process" (keyCode 229) or composing key events whose `key` is
// not the letter: those are read by their position on the keyboard (event.code) instead.

const POSITION_KEYS = { Enter: "Enter", NumpadEnter: "Enter", Escape: "Escape", Backspace: "Backspace",
  ArrowDown: "ArrowDown", ArrowUp: "ArrowUp", ArrowLeft: "ArrowLeft", ArrowRight: "ArrowRight",
  Tab: "Tab", Delete: "Delete", Home: "Home", End: "End", Period: ".", Space: " " };

/** Whether an input method had this key (its `key` then says nothing of the letter). */
export const viaInputMethod = (event) => event.isComposing || event.key === "Process" || event.keyCode === 229;

/** The key as the shortcuts know it: event.key, or from its position for an input method's key. */
export function shortcutKey(event) {
  if (!viaInputMethod(event)) return event.key;
  if (event.code.startsWith("Key")) {
    const letter = event.code.slice(3).toLowerCase();
    return event.shiftKey ? letter.toUpperCase() : letter;
  }
  if (event.code.startsWith("Digit")) return event.code.slice(5);
  if (event.code === "Slash" && event.shiftKey) return "?";
  return POSITION_KEYS[event.code] ?? event.key;
}

/** The unshifted key of a Shift+key press ("1" for Shift+1, "x" for Shift+x), from its position. */
export function unshifted(event) {
  if (event.code.startsWith("Digit")) return event.code.slice(5);
  if (event.code.startsWith("Key")) return event.code.slice(3).toLowerCase();
  return event.key;
}
