// Saving a label: the body (term, sign, words, confidence, and the context the annotator saw: window, seeds, range,
// frames), one Idempotency-Key per label reused by its retries. A server whose vocabulary has no `positive` senses
// predates `sign` and `context`: they are left out (and a 422 naming them as unknown is answered the same way).

import * as api from "../api.js";
import { session } from "../state.js";
import { showError } from "../ui.js";
import { LABEL_STEPS, labelSeeds } from "./player.js";
import { senseOf } from "./terms.js";

/** What the annotator saw when labelling: the label's `context`. */
export const labelContext = (state) =>
  ({ window: state.window, seeds: labelSeeds(state.seed), extent: state.extent, steps: LABEL_STEPS });

/** Say why the form cannot be saved yet (null when it can); `form` may get the focus. */
function missing(term, words, sign, form) {
  if (!term) return "choose a term first (buttons or keys 1–9, 0, Q–T)";
  if (term.requires_text && !words.text) {
    form.focusText();
    return `"${term.name}" needs free text saying what changes`;
  }
  if (senseOf(term) && sign === null) return `say which way a positive shift moves "${term.name}" (keys + / −)`;
  return null;
}

/** The label the form (`terms`: createTerms, `form`: createForm) holds for `state`, or null after saying what is missing. */
export function labelBody(state, terms, form, blinded) {
  const term = terms.current();
  const words = form.read();
  const sign = terms.sign();
  const problem = missing(term, words, sign, form);
  if (problem) {
    showError(new Error(problem), "Label");
    return null;
  }
  return { model: state.model, set: state.set, direction: state.dir, term: term.id, ...words, sign,
    context: labelContext(state), blinded };
}

/** A 422 saying `sign` or `context` is an unknown field (pydantic: "Extra inputs are not permitted"). */
function refusesExtras(error) {
  const text = `${error.message} ${JSON.stringify(error.detail ?? "")}`;
  return error.status === 422 && /\b(sign|context)\b/.test(text) && /extra|not permitted|unknown/i.test(text);
}

/** Whether the server's vocabulary speaks of positive senses (then it also takes `sign` and `context`). */
export const takesSignAndContext = (terms) => terms.some((t) => Object.hasOwn(t, "positive"));

/** Returns {post(body, extras) -> Promise<label>}: body holds sign and context, sent when `extras` says the server takes them. */
export function createSaver() {
  let unsaved = null; // {bodyText, key} of a save that got no answer: a retry of the same label reuses the key
  let extrasRefused = false;

  async function postOnce(body) {
    const bodyText = JSON.stringify(body);
    if (!unsaved || unsaved.bodyText !== bodyText) unsaved = { bodyText, key: api.newIdempotencyKey() };
    try {
      const label = await api.postLabel(session.token(), body, unsaved.key);
      unsaved = null;
      return label;
    } catch (error) {
      if (error.status >= 400 && error.status < 500) unsaved = null; // refused, not lost: a retry is a new request
      throw error;
    }
  }

  async function post(body, extras) {
    const { sign, context, ...plain } = body;
    if (!extras || extrasRefused) return postOnce(plain);
    const full = { ...plain, context, ...(sign === null || sign === undefined ? {} : { sign }) };
    try {
      return await postOnce(full);
    } catch (error) {
      if (!refusesExtras(error)) throw error;
      extrasRefused = true; // this server predates sign and context: the label itself still counts
      return postOnce(plain);
    }
  }

  return { post };
}
