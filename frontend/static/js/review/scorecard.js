// Review's scorecard: which paper factors each direction set finds (sets x factors), the current set's row marked,
// and the rule a "found" follows, in words.

import * as api from "../api.js";
import { el, showError } from "../ui.js";

const FACTOR_NAMES = {
  rotation_deg: "rotation", breast_size: "breast size", fat_thickness: "thickness", y_offset: "vertical position",
  z_position: "slice level",
};

/** One cell of the scorecard: the set's best direction for a factor, its effect, share and chance level. */
function scorecardCell(row) {
  const text = `d${row.direction} · ${row.effect_sd.toFixed(1)} sd · ${Math.round(row.share * 100)}%`;
  const title = `direction ${row.direction}: ${row.effect_sd.toFixed(2)} natural sd over the traversal, ` +
    `${Math.round(row.share * 100)}% of its change, sign agreed by ${Math.round(row.sign_agreement * 100)}% of seeds, ` +
    `chance ${row.chance.toFixed(3)}`;
  return el("td", { class: row.found ? "found" : "not-found", title }, row.found ? `✓ ${text}` : text);
}

/** The scorecard table (sets x paper factors), the current set's row marked. */
export function renderScorecard(card, currentSet, table, rule) {
  const factors = card.paper_factors;
  table.tHead.replaceChildren(el("tr", {},
    el("th", { scope: "col" }, "Set"),
    ...factors.map((f) => el("th", { scope: "col" }, FACTOR_NAMES[f] || f)),
    el("th", { scope: "col" }, "Found"),
    el("th", { scope: "col", title: "DCI disentanglement of the effect matrix; random sets of the same size in brackets" }, "D (random)"),
    el("th", { scope: "col", title: "random = 0, the supervised reference = 1" }, "normalised"),
  ));
  table.tBodies[0].replaceChildren(...Object.entries(card.sets).map(([id, entry]) => {
    const name = id === card.reference ? `${id} (reference)` : id;
    const normalised = entry.normalised?.disentanglement;
    return el("tr", { class: id === currentSet ? "current" : "", dataset: { set: id } },
      el("th", { scope: "row" }, `${name} · K=${entry.count}`),
      ...factors.map((f) => scorecardCell(entry.per_factor[f])),
      el("td", { class: "num" }, `${entry.paper_found.length} of ${factors.length}`),
      el("td", { class: "num" }, `${entry.disentanglement.toFixed(3)} (${entry.random.disentanglement.mean.toFixed(3)})`),
      el("td", { class: "num" }, normalised === null || normalised === undefined ? "—" : normalised.toFixed(2)),
    );
  }));
  const r = card.rule;
  rule.textContent = `✓ found: the best direction moves the factor by ≥ ${r.min_effect_sd} natural sd over shifts of ` +
    `±${card.config.extent}, ≥ ${Math.round(r.min_share * 100)}% of its change is that factor, ≥ ` +
    `${Math.round(r.min_sign_agreement * 100)}% of ${card.config.seeds} seeds agree on the sign, and a random set of ` +
    `the same size does as well with probability ≤ ${r.max_chance} (${card.pool.directions} random directions).`;
}

/** The scorecard panel of Review: {sync(state)} loads each model's scorecard once and renders it. */
export function createScorecardPanel(app, els) {
  const scorecards = new Map(); // model -> Promise of its scorecard (or null when it has none)

  async function sync(state) {
    if (!scorecards.has(state.model)) {
      const offered = app.catalog.model(state.model)?.has_scorecard;
      scorecards.set(state.model, offered ? api.getScorecard(state.model) : Promise.resolve(null));
    }
    try {
      const card = await scorecards.get(state.model);
      if (!card) {
        els.table.tHead.replaceChildren();
        els.table.tBodies[0].replaceChildren(el("tr", {}, el("td", { class: "empty" }, "No scorecard for this model yet (latentct scorecard).")));
        els.rule.textContent = "";
        return;
      }
      renderScorecard(card, state.set, els.table, els.rule);
    } catch (error) {
      scorecards.delete(state.model);
      showError(error);
    }
  }

  return { sync };
}
