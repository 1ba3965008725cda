// The vocabulary as buttons (keys 1-9, 0, Q-T) and, beside it, the sign: for a term with a positive sense
// ("larger", "clockwise as displayed"), whether a positive shift moves it that way (+1) or the other (-1).

import { el } from "../ui.js";

export const TERM_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "q", "w", "e", "r", "t", "y", "u", "i", "o", "p"];

const OPPOSITES = [
  ["counter-clockwise", "clockwise"], ["anticlockwise", "clockwise"], ["larger", "smaller"], ["thicker", "thinner"],
  ["brighter", "darker"], ["higher", "lower"], ["more", "less"], ["anterior", "posterior"], ["feet", "head"],
  ["caudal", "cranial"], ["left", "right"], ["up", "down"], ["deeper", "shallower"], ["wider", "narrower"],
];

/** The other sense of a positive sense: "larger" -> "smaller", "towards the feet" -> "towards the head". */
export function oppositeSense(sense) {
  for (const [a, b] of OPPOSITES) {
    for (const [from, to] of [[a, b], [b, a]]) {
      const pattern = new RegExp(`\\b${from}\\b`, "i");
      if (pattern.test(sense)) return sense.replace(pattern, to);
    }
  }
  return `the opposite of "${sense}"`;
}

/** A term's positive sense, or null for terms without one (and for servers that do not say). */
export const senseOf = (term) => (term && typeof term.positive === "string" && term.positive ? term.positive : null);

/** els: {terms, sign, signTerm, signPos, signNeg, signPosText, signNegText}; onSelect(term) hears every choice. */
export function createTerms(els, onSelect) {
  let terms = [];
  let selected = null;

  function build(vocabulary) {
    terms = vocabulary;
    els.terms.replaceChildren(...terms.map((term, i) => {
      const key = TERM_KEYS[i];
      return el("button", {
        type: "button", class: "term", role: "radio", "aria-checked": "false", title: term.description || term.name,
        dataset: { term: term.id }, "aria-keyshortcuts": key || undefined, onclick: () => select(term.id),
      }, key ? el("span", { class: "key", "aria-hidden": "true" }, key.toUpperCase()) : null, el("span", { class: "term-name" }, term.name));
    }));
  }

  /** Choose a term (null: none); the sign question follows the term's sense and starts unanswered on a change. */
  function select(termId, sign = null) {
    const changed = termId !== selected;
    selected = termId;
    for (const button of els.terms.querySelectorAll(".term")) {
      button.setAttribute("aria-checked", String(button.dataset.term === termId));
    }
    const term = current();
    const sense = senseOf(term);
    els.sign.hidden = !sense;
    if (sense) {
      els.signTerm.textContent = term.name.toLowerCase();
      els.signPosText.textContent = sense;
      els.signNegText.textContent = oppositeSense(sense);
    }
    if (changed || sign !== null) setSign(sense ? sign : null);
    onSelect(term);
  }

  function setSign(sign) {
    els.signPos.checked = sign === 1;
    els.signNeg.checked = sign === -1;
  }

  /** +1, -1, or null (not answered, or the term has no sense). */
  function sign() {
    if (!senseOf(current())) return null;
    return els.signPos.checked ? 1 : els.signNeg.checked ? -1 : null;
  }

  const current = () => terms.find((t) => t.id === selected) || null;

  /** Focus the chosen term's button, else the first: the term keys then act, nothing types into a text field. */
  function focus() {
    const button = els.terms.querySelector('.term[aria-checked="true"]') || els.terms.querySelector(".term");
    button?.focus();
  }

  return {
    build, select, setSign, sign, focus, current,
    get terms() { return terms; },
    selectByKey: (index) => index >= 0 && index < terms.length && (select(terms[index].id), true),
  };
}
