// The clock of Label's player: plays the frames forth and back, or holds one; the scrubber (a range over the frames)
// pauses and steps, Space on it plays/pauses, and a readout says the shift of the frame shown.

import { formatShift } from "../ui.js";

const FPS = 8;

/** The frame at animation step `step` of `count` frames, forth and back (0 … count-1 … 1, 0 …). */
export function pingPong(step, count) {
  const period = Math.max(1, 2 * (count - 1));
  const s = ((step % period) + period) % period;
  return s < count ? s : period - s;
}

/**
 * els: {play, scrubber, readout}; `count` frames; `paint(i, source)` draws frame i; `valueOf(i)` is its shift.
 * Returns {draw(i, source), setReady(bool), setPlaying(bool), toggle(), stop(), resume()}.
 */
export function createPlayback(els, count, paint, valueOf) {
  let frame = Math.floor((count - 1) / 2);
  let playing = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let ready = false;
  let handle = null;
  els.scrubber.max = String(count - 1);
  els.scrubber.step = "1";

  /** Show frame `i`: on the cells, the scrubber and the readout. */
  function draw(i = frame, source = "strip") {
    frame = i;
    paint(i, source);
    const text = `shift ${formatShift(valueOf(i))}`;
    els.scrubber.value = String(i);
    els.scrubber.setAttribute("aria-valuetext", text);
    els.readout.textContent = text;
  }

  function resume() {
    if (handle !== null || !ready || !playing) return;
    let start = null;
    const first = frame;
    const tick = (now) => {
      handle = window.requestAnimationFrame(tick);
      if (start === null) start = now;
      const i = pingPong(first + Math.floor(((now - start) / 1000) * FPS), count);
      if (i !== frame) draw(i, "play");
    };
    handle = window.requestAnimationFrame(tick);
  }

  function stop() {
    if (handle !== null) window.cancelAnimationFrame(handle);
    handle = null;
  }

  function setPlaying(value) {
    playing = value;
    els.play.setAttribute("aria-pressed", String(playing));
    els.play.textContent = playing ? "Pause" : "Play";
    if (playing) resume();
    else stop();
  }

  /** The frames can be drawn (true: show the current one and play if playing) or not (false: stop). */
  function setReady(value) {
    ready = value;
    els.scrubber.disabled = !value;
    if (!value) return stop();
    draw(frame, "strip");
    return setPlaying(playing);
  }

  const toggle = () => setPlaying(!playing);
  els.play.addEventListener("click", toggle);
  els.scrubber.addEventListener("input", () => {
    setPlaying(false);
    draw(Number(els.scrubber.value), "strip");
  });
  els.scrubber.addEventListener("keydown", (event) => {
    if (event.key !== " ") return;
    event.preventDefault();
    toggle();
  });

  return { draw, setReady, setPlaying, toggle, stop, resume };
}
