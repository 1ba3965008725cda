// "Download GIF" and "Download PNG strip" of the focused direction's traversal (Explore; Label reuses it for the
// direction shown): links to the API's traversal.gif / traversal.png with the current seed, window, range and the
// other directions' shifts as the base edit. Disabled, with the reason, when no direction is focused or the view
// shows an encoded slice (the traversal endpoints start from a seed).

import { apiUrl, shiftParams } from "../api.js";
import { el } from "../ui.js";

export const EXPORT_STEPS = 17;
export const EXPORT_FPS = 8;
const RESEARCH_ONLY = "research only, not for clinical use";

/** The query of the traversal of `direction` in `state` (its own shift left out: the traversal sweeps it). */
export function traversalQuery(state, direction) {
  const others = Object.fromEntries(Object.entries(state.shifts || {}).filter(([k]) => Number(k) !== direction));
  return { seed: state.seed, set: state.set, direction, extent: state.extent, steps: EXPORT_STEPS, window: state.window, shift: shiftParams(others) };
}

/** Why there is nothing to download, or "" when there is. */
function blockedReason(state, direction) {
  if (!state.model || !state.set) return "No model or direction set is chosen.";
  if (state.latent) return "Downloads start from a seed; not available for an encoded slice.";
  if (direction === null || direction === undefined) return "Focus a direction (a slider) to download its traversal.";
  return "";
}

function setLink(link, href, filename, title) {
  if (href) {
    link.href = href;
    link.download = filename;
    link.removeAttribute("aria-disabled");
  } else {
    link.removeAttribute("href");
    link.removeAttribute("download");
    link.setAttribute("aria-disabled", "true");
  }
  link.title = title;
}

/**
 * The two download links, placed after `anchor`; `idPrefix` names them (`${idPrefix}-gif`, `${idPrefix}-png`).
 * Returns {sync(state, direction)}.
 */
export function createTraversalExports(anchor, idPrefix) {
  const gif = el("a", { class: "btn btn-small", id: `${idPrefix}-gif`, dataset: { export: "gif" } }, "Download GIF");
  const png = el("a", { class: "btn btn-small", id: `${idPrefix}-png`, dataset: { export: "png" } }, "Download PNG strip");
  const box = el("span", { class: "traversal-exports", role: "group", "aria-label": `Downloads (${RESEARCH_ONLY})` }, gif, png);
  anchor.after(box);
  let shown = null;

  function sync(state, direction) {
    const reason = blockedReason(state, direction);
    const query = reason ? null : traversalQuery(state, direction);
    const key = JSON.stringify([state.model, query, reason]);
    if (key === shown) return;
    shown = key;
    const path = `/models/${encodeURIComponent(state.model)}`;
    const name = query ? `latentct_${state.model}_${state.set}_d${direction}_seed${state.seed}_research-only` : "";
    setLink(gif, query && apiUrl(`${path}/traversal.gif`, { ...query, fps: EXPORT_FPS }), `${name}.gif`,
      reason || `d${direction}, ±${state.extent}, forth and back, as an animated GIF (${RESEARCH_ONLY})`);
    setLink(png, query && apiUrl(`${path}/traversal.png`, query), `${name}.png`,
      reason || `d${direction}, ${EXPORT_STEPS} frames from −${state.extent} to +${state.extent}, left to right (${RESEARCH_ONLY})`);
  }

  return { sync };
}
