// The rest of the label form: free text (required for terms that say so), confidence 1-5 (radios, Shift+1..5),
// the polarity in words, and the line saying what the annotator's current label for this direction is.

import { Catalog } from "../catalog.js";
import { el } from "../ui.js";

export const DEFAULT_CONFIDENCE = 3;

/** els: {text, confidence, polarity, own}. Returns {fill(label, terms), setConfidence(n), read(), requireText(term)}. */
export function createForm(els) {
  els.confidence.replaceChildren(
    ...[1, 2, 3, 4, 5].map((value) =>
      el("label", { class: "confidence-option" },
        el("input", { type: "radio", name: "label-confidence", value: String(value), checked: value === DEFAULT_CONFIDENCE,
          "aria-keyshortcuts": `Shift+${value}` }),
        el("span", {}, String(value)))),
    el("span", { class: "hint" }, "1 unsure … 5 certain (Shift+1…5)"),
  );

  function setConfidence(value) {
    for (const radio of els.confidence.querySelectorAll("input")) radio.checked = radio.value === String(value);
  }

  /** The text field follows the term: required (with a placeholder saying so) for terms that need words. */
  function requireText(term) {
    const required = Boolean(term && term.requires_text);
    els.text.required = required;
    els.text.placeholder = required ? "Required for this term: say what changes" : "What you see, in your words";
  }

  /** Show `label` (the annotator's current one for this direction) or an empty form. */
  function fill(label, terms) {
    els.text.value = label ? label.text : "";
    els.polarity.value = label ? label.polarity : "";
    setConfidence(label ? label.confidence : DEFAULT_CONFIDENCE);
    els.own.textContent = label
      ? `Your current label: ${Catalog.termName(terms, label.term)} (confidence ${label.confidence}), saved ${new Date(label.created_at).toLocaleString()}. Saving again replaces it; the history is kept.`
      : "You have not labelled this direction yet.";
  }

  const read = () => ({
    text: els.text.value.trim(),
    polarity: els.polarity.value.trim(),
    confidence: Number(els.confidence.querySelector("input:checked")?.value || DEFAULT_CONFIDENCE),
  });

  return { fill, setConfidence, read, requireText, focusText: () => els.text.focus() };
}
