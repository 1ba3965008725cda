// Click-through from a direction's strip in Review or Compare: to Explore with that direction focused, and to Label
// on that direction. Real links (open in a new tab works); a plain click changes the view in place.

import { getState, setState, stateToUrl } from "../state.js";
import { el } from "../ui.js";

/** The state patch that opens `view` on direction `index` of `set`. */
function patchFor(view, set, index) {
  if (view === "explore") return { view, set, focus: index, shifts: {} };
  return { view, set, dir: index };
}

/** A link to `view` ("explore" | "label") on direction `index` of `set`, with `children` as its content. */
export function directionLink(view, set, index, attrs, ...children) {
  const patch = patchFor(view, set, index);
  const href = stateToUrl({ ...getState(), ...patch });
  const link = el("a", { ...attrs, href, dataset: { goto: view, direction: String(index), set } }, ...children);
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // let "open in new tab" work
    event.preventDefault();
    setState(patch, { push: true });
  });
  return link;
}

/** "Explore d3 · Label d3": the two ways on from a direction. */
export function directionActions(set, index) {
  return el("span", { class: "direction-actions" },
    directionLink("explore", set, index, { class: "btn btn-small", title: `Open d${index} of ${set} in Explore, focused` }, `Explore d${index}`),
    directionLink("label", set, index, { class: "btn btn-small", title: `Label d${index} of ${set} (sign-in needed)` }, `Label d${index}`));
}
