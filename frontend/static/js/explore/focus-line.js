// The line above the Explore grid saying what the sliders do now: the focused direction, its caption, the window
// and whether scrubbing runs from strips yet (or which encoded slice is shown).

import { windowLabel } from "../ui.js";
import { consensusText, measuredText } from "./captions.js";

/** ctx: {encoded: "Encoded x (method)", setInfo, terms, loaded: cells with their strip, total: cells}. */
export function focusLineText(state, { encoded, setInfo, terms, loaded, total }) {
  if (state.latent) {
    return state.focus === null ? `${encoded}: move a slider to explore around it` : `${encoded} · direction d${state.focus}`;
  }
  if (state.focus === null || !setInfo) return "Move or focus a slider: its direction is scrubbed on every sample";
  const direction = setInfo.directions.find((d) => d.index === state.focus);
  const about = direction ? [consensusText(direction, terms), measuredText(direction.measured)].filter(Boolean).join(", ") : "";
  const status = loaded === total ? "scrubbing on the client" : `loading strips ${loaded}/${total}`;
  return `d${state.focus}${about ? ` (${about})` : ""} · ${windowLabel(state.window)} · ${status}`;
}
