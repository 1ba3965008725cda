// "Play on all seeds": the focused direction animated forth and back on every cell in step, from its strips; for an
// encoded slice, from the frames rendered around its latent (POST render, joined into one strip).

import { getState, setState } from "../state.js";
import { Animator } from "../strip.js";
import { showError } from "../ui.js";

/**
 * `button` toggles playing; `grid` (createGrid) has the cells, `strips` (createStripLoader) loads their strips;
 * `firstDirection()` is the direction to play when none is focused (null when the set has none); `latentFrames`
 * (LatentFrames) renders the frames around an encoded latent.
 */
export function createPlayback(button, grid, strips, firstDirection, latentFrames) {
  const animator = new Animator(12);
  const pressed = () => button.getAttribute("aria-pressed") === "true";

  function mark(playing) {
    button.setAttribute("aria-pressed", String(playing));
    button.textContent = playing ? "Stop" : getState().latent ? "Play" : "Play on all seeds";
  }

  async function start() {
    let state = getState();
    if (state.focus === null) {
      const direction = firstDirection();
      if (direction === null) return;
      setState({ focus: direction });
      state = getState();
    }
    mark(true);
    try {
      const loaded = state.latent ? [await latentFrames.strip(state)] : await strips.loadAll(state);
      if (!pressed() || getState() !== state) return;
      animator.setItems(grid.cells.map((c, i) => ({ canvas: c.canvas, strip: loaded[i] })));
      animator.start();
    } catch (error) {
      showError(error, "Play");
      stop(true);
    }
  }

  /** Stop; `redraw` puts the state's own frames back on the canvases. */
  function stop(redraw) {
    animator.stop();
    mark(false);
    if (redraw) grid.show(getState(), true);
  }

  button.addEventListener("click", () => (animator.running ? stop(true) : start()));

  return {
    stop,
    get running() { return animator.running; },
    sync: (state) => { button.textContent = pressed() ? "Stop" : state.latent ? "Play" : "Play on all seeds"; },
  };
}
