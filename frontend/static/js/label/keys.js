// Label's keyboard: what each key press means (a pure mapping to an action) and the visible key help listing them.

import { el } from "../ui.js";
import { TERM_KEYS } from "./terms.js";

export const KEY_HELP = [
  ["1–9, 0, Q–T", "choose a term"],
  ["+ / −", "the sign: a positive shift moves the term in its sense (+) or the other way (−)"],
  ["Shift+1 … 5", "confidence 1 (unsure) … 5 (certain)"],
  ["Ctrl+Enter", "save; focus returns to the terms for the next direction"],
  ["Space", "play / pause the animation"],
  ["← / →", "previous / next direction; on the scrubber: one frame"],
];

/** The key help as a definition list in `container`. */
export function buildKeyHelp(container) {
  container.replaceChildren(...KEY_HELP.map(([keys, what]) =>
    el("div", { class: "key-help-row" }, el("dt", {}, el("kbd", {}, keys)), el("dd", {}, what))));
}

const SPACE_OWNERS = new Set(["button", "a", "summary", "select", "input", "textarea"]);

/**
 * The action of a key press in Label (the page already skips presses in text fields): {type: "term", index},
 * {type: "confidence", value}, {type: "sign", value}, {type: "move", delta}, {type: "play"}, {type: "save"}, or null.
 */
export function keyAction(event) {
  const target = event.target || {};
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter") return { type: "save" };
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (event.shiftKey && /^Digit[1-5]$/.test(event.code || "")) return { type: "confidence", value: Number(event.code.slice(5)) };
  if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
    if (target.type === "radio" || target.type === "range") return null; // they use the arrows themselves
    return { type: "move", delta: event.key === "ArrowLeft" ? -1 : 1 };
  }
  if (event.key === " ") {
    const tag = (target.tagName || "").toLowerCase();
    return SPACE_OWNERS.has(tag) ? null : { type: "play" };
  }
  if (event.key === "+" || event.key === "=") return { type: "sign", value: 1 };
  if (event.key === "-" || event.key === "−") return { type: "sign", value: -1 };
  const index = TERM_KEYS.indexOf(event.key.toLowerCase());
  return index >= 0 ? { type: "term", index } : null;
}
