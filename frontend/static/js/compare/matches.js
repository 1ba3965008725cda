// Compare's matched pairs: each pair of the one-to-one matching (sorted by |cos|) with both strips large and
// captioned, the sign said in words (cos < 0: B runs the other way and is shown reversed), each direction's
// consensus label where the viewer may see it, and the directions left unmatched by a rectangular pair of sets.

import * as api from "../api.js";
import { Catalog } from "../catalog.js";
import { framedStrip } from "../review/frames.js";
import { directionActions, directionLink } from "../review/links.js";
import { session } from "../state.js";
import { el } from "../ui.js";

const COMPARE_STEPS = 5;

/**
 * The consensus text of every direction of `set` as this viewer may see it: Map index -> text, or null when signed
 * out (the server answers no consensus without a token; an annotator gets it only where they labelled).
 */
export async function consensusTexts(model, set, terms) {
  const token = session.token();
  if (!token) return null;
  const info = await api.getDirectionSet(model, set, token);
  const text = (c) => {
    if (!c || !c.term) return "—";
    const sign = c.sign === 1 ? " (+)" : c.sign === -1 ? " (−)" : "";
    return `${Catalog.termName(terms, c.term)}${sign} · ${Math.round((c.share || 0) * 100)}% of ${c.n_labels}`;
  };
  return new Map(info.directions.map((d) => [d.index, text(d.consensus)]));
}

function labelLine(labels, index) {
  if (labels === null) return el("span", { class: "match-consensus" }, "label: sign in to see");
  return el("span", { class: "match-consensus", title: "the annotators' consensus (— when none, or hidden until you label it)" },
    `label: ${labels.get(index) ?? "—"}`);
}

/** One side of a pair: tag, consensus, strip (a link to Explore), actions. */
function side(ctx, which, index, reversed) {
  const set = ctx.names[which];
  const params = { seed: ctx.state.seed, set, direction: index, extent: ctx.state.extent, steps: COMPARE_STEPS, window: ctx.state.window };
  const label = `${which.toUpperCase()}: ${set} d${index}${reversed ? " (opposite: shown reversed)" : ""}`;
  const figure = framedStrip(ctx.state.model, params, { frameSize: ctx.state.frame, label, signal: ctx.signal, reversed });
  return el("div", { class: "match-side", dataset: { side: which, direction: String(index) } },
    el("p", { class: "match-title" }, el("span", { class: "strip-tag" }, which.toUpperCase()), ` ${set} d${index} · `,
      labelLine(ctx.labels[which], index), reversed ? el("span", { class: "match-sign" }, " · shown reversed (opposite)") : "",
      directionActions(set, index)),
    el("div", { class: "strip-scroll" }, directionLink("explore", set, index, { class: "strip-link" }, figure)));
}

/** One pair as an <li class="match">. ctx: {state, names: {a, b}, labels: {a, b}, signal}. */
export function pairItem(ctx, pair) {
  const opposite = pair.cos < 0;
  const cos = `cos ${pair.cos < 0 ? "−" : ""}${Math.abs(pair.cos).toFixed(3)} (|cos| ${Math.abs(pair.cos).toFixed(3)})`;
  return el("li", { class: `match${opposite ? " opposite" : ""}`, dataset: { a: String(pair.a), b: String(pair.b), cos: String(pair.cos) } },
    el("p", { class: "match-title" }, `A d${pair.a} ↔ B d${pair.b} · ${cos}`,
      opposite ? el("span", { class: "match-sign" }, " · opposite sign: B runs the other way, so its strip is shown reversed") : " · same sign"),
    el("div", { class: "match-strips" }, side(ctx, "a", pair.a, false), side(ctx, "b", pair.b, opposite)));
}

function unmatchedLine(which, names, indexes) {
  if (!indexes.length) return null;
  return el("p", { class: "unmatched", dataset: { unmatched: which } },
    `Unmatched in ${which.toUpperCase()} (${names[which]}, the larger set): ${indexes.map((i) => `d${i}`).join(", ")}`);
}

/** The matches panel: the pairs by |cos|, then the unmatched directions of either set. */
export function renderMatches(ctx, matching) {
  return el("div", { class: "panel", id: "compare-matches" },
    el("h2", { class: "panel-title" }, "One-to-one matching of A's directions to B's (largest total |cos|), by |cos|"),
    el("p", { class: "hint" },
      `Total |cos| ${matching.total.toFixed(3)} over ${matching.pairs.length} pairs. Click a strip to open that direction in Explore.`),
    el("ul", { class: "matches" }, ...matching.pairs.map((pair) => pairItem(ctx, pair))),
    unmatchedLine("a", ctx.names, matching.unmatchedA), unmatchedLine("b", ctx.names, matching.unmatchedB));
}
