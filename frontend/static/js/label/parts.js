// The parts of the Label view bound to the template's elements: form, terms and sign, player, view controls,
// picker, saver and the key help.

import { createTraversalExports } from "../explore/exports.js";
import { createPicker } from "../picker.js";
import { $ } from "../ui.js";
import { createForm } from "./form.js";
import { buildKeyHelp } from "./keys.js";
import { createPlayer } from "./player.js";
import { createSaver } from "./save.js";
import { createTerms } from "./terms.js";
import { createViewControls } from "./view-controls.js";

/** {form, terms, player, controls, picker, saver, exports} of the Label view. */
export function createParts(app) {
  const form = createForm({ text: $("label-text"), confidence: $("label-confidence"), polarity: $("label-polarity"), own: $("label-own") });
  buildKeyHelp($("label-keys"));
  return {
    form,
    terms: createTerms({ terms: $("label-terms"), sign: $("label-sign"), signTerm: $("label-sign-term"), signPos: $("label-sign-pos"),
      signNeg: $("label-sign-neg"), signPosText: $("label-sign-pos-text"), signNegText: $("label-sign-neg-text") }, form.requireText),
    player: createPlayer(app, { grid: $("label-grid"), play: $("label-play"), scrubber: $("label-scrubber"), readout: $("label-shift") }),
    controls: createViewControls({ presets: $("label-windows"), windowForm: $("label-window-custom"), width: $("label-window-w"),
      level: $("label-window-l"), seed: $("label-seed"), random: $("label-random"), extent: $("label-extent") }),
    picker: createPicker(app, { model: $("label-model"), sets: [{ select: $("label-set") }] }),
    saver: createSaver(),
    exports: createTraversalExports($("label-play"), "label-download"), // GIF / PNG strip of the direction shown
  };
}
