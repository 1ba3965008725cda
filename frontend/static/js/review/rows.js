// Review's table rows: per direction its number of labels, consensus (term and sign, a tie named, or why it is
// hidden), share, and its strip at the chosen frame size with shift captions, clickable through to Explore and Label.

import { Catalog } from "../catalog.js";
import { el } from "../ui.js";
import { framedStrip } from "./frames.js";
import { directionActions, directionLink } from "./links.js";

/** The consensus cell: the term (and its sign), the tied terms named, or why nothing is shown. */
export function consensusText(d, terms) {
  if (d.signedOut) return "sign in to see";
  if (d.consensus_hidden) return "hidden until you label it";
  const signed = (term, sign) => `${Catalog.termName(terms, term)}${sign === 1 ? " (+)" : sign === -1 ? " (−)" : ""}`;
  if (d.consensus_term) return signed(d.consensus_term, d.consensus_sign);
  if (Array.isArray(d.tie) && d.tie.length) return `tie: ${d.tie.map((t) => signed(t.term, t.sign)).join(" / ")}`;
  return d.n_labels ? "tie" : "—";
}

function shareCell(d) {
  const share = d.share === null || d.share === undefined ? null : d.share;
  if (share === null) return el("td", { class: "share" }, "—");
  return el("td", { class: "share" },
    el("meter", { min: "0", max: "1", value: String(share), "aria-label": `Share of direction ${d.index}` }),
    ` ${Math.round(share * 100)}%`);
}

/** The strip of direction `index`, a link to Explore with that direction focused. */
export function stripLink(state, set, index, steps, signal) {
  const params = { seed: state.seed, set, direction: index, extent: state.extent, steps, window: state.window };
  const figure = framedStrip(state.model, params, { frameSize: state.frame, label: `Direction ${index} traversal`, signal });
  return el("div", { class: "strip-scroll" },
    directionLink("explore", set, index, { class: "strip-link", title: `Open d${index} in Explore, focused` }, figure));
}

/** One row of the agreement table. */
export function agreementRow(state, d, terms, steps, signal) {
  return el("tr", { dataset: { direction: String(d.index) } },
    el("th", { scope: "row" }, el("span", { class: "direction-id" }, `d${d.index}`), directionActions(state.set, d.index)),
    el("td", { class: "strip-cell" }, stripLink(state, state.set, d.index, steps, signal)),
    el("td", { class: "num" }, d.n_labels === null ? "—" : String(d.n_labels)),
    el("td", {}, consensusText(d, terms)),
    shareCell(d));
}
