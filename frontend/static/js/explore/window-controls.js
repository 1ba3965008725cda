// The HU window controls of Explore: the four preset buttons (keys 1-4) and a custom width/level form.

import { setState, WINDOW_PRESETS } from "../state.js";
import { buildWindowButtons, markWindowButtons, showError, windowWidthLevel } from "../ui.js";
import { round4 } from "./keys.js";

/** els: {presets, form, width, level}. Returns {sync(state, model), onKey(event)}. */
export function createWindowControls(els) {
  buildWindowButtons(els.presets, (name) => setState({ window: name }));
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const w = Number(els.width.value);
    const l = Number(els.level.value);
    if (!Number.isFinite(w) || w <= 0 || !Number.isFinite(l) || els.width.value === "" || els.level.value === "") {
      showError(new Error("a custom window needs a width W > 0 and a level L, both in HU"), "Window");
      return;
    }
    setState({ window: `${round4(w)},${round4(l)}` });
  });

  /** Mark the preset and show its W/L (never while the user types in them); `model` gives the full range. */
  function sync(state, model) {
    markWindowButtons(els.presets, state.window);
    const [w, l] = windowWidthLevel(state.window, model?.hu_range);
    if (document.activeElement !== els.width && document.activeElement !== els.level) {
      els.width.value = String(w);
      els.level.value = String(l);
    }
  }

  function onKey(event) {
    const index = ["1", "2", "3", "4"].indexOf(event.key);
    if (index < 0 || event.ctrlKey || event.metaKey || event.altKey) return false;
    setState({ window: WINDOW_PRESETS[index] });
    return true;
  }

  return { sync, onKey };
}
