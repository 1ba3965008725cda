// The Review view: agreement of the annotators on one direction set (consensus and share per direction, Fleiss'
// kappa, Krippendorff's alpha) next to each direction's traversal strip.

import * as api from "./api.js";
import { Catalog } from "./catalog.js";
import { createPicker } from "./picker.js";
import { session } from "./state.js";
import { $, el, showError } from "./ui.js";

const REVIEW_STEPS = 9;

/** Landis & Koch's words for a kappa, so a number reads as a judgement. */
export function describeKappa(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "not enough labels yet";
  if (value < 0) return "poor (below chance)";
  if (value <= 0.2) return "slight";
  if (value <= 0.4) return "fair";
  if (value <= 0.6) return "moderate";
  if (value <= 0.8) return "substantial";
  return "almost perfect";
}

const formatStat = (value) => (value === null || value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(3));

/** Without a token the server answers no agreement (blinding, issue 19): the strips still show, the labels do not. */
async function signedOutAgreement(app, state) {
  const set = await app.catalog.directionSet(state.model, state.set);
  const directions = set.directions.map((d) => ({ index: d.index, n_labels: null, consensus_term: null, share: null, signedOut: true }));
  return { directions, fleiss_kappa: null, krippendorff_alpha: null, signedOut: true };
}

/** The consensus cell: the term (and its sign), the tied terms named, or why nothing is shown. */
function consensusText(d, terms) {
  if (d.signedOut) return "sign in to see";
  if (d.consensus_hidden) return "hidden until you label it";
  const signed = (term, sign) => `${Catalog.termName(terms, term)}${sign === 1 ? " (+)" : sign === -1 ? " (−)" : ""}`;
  if (d.consensus_term) return signed(d.consensus_term, d.consensus_sign);
  if (Array.isArray(d.tie) && d.tie.length) return `tie: ${d.tie.map((t) => signed(t.term, t.sign)).join(" / ")}`;
  return d.n_labels ? "tie" : "—";
}

/** An <img> of a direction's strip, fetched through the API wrapper so a failure is shown in words. */
export function stripImage(model, params, alt, signal) {
  const img = el("img", { class: "strip", alt, loading: "lazy" });
  api.fetchTraversal(model, params, signal).then(
    ({ blob }) => {
      const url = URL.createObjectURL(blob);
      img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
      img.src = url;
    },
    (error) => {
      img.replaceWith(el("span", { class: "strip-error" }, "strip unavailable"));
      showError(error, alt);
    },
  );
  return img;
}

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

export function createReview(app) {
  const els = { stats: $("review-stats"), body: $("review-table").tBodies[0],
    scorecard: $("review-scorecard"), scorecardRule: $("review-scorecard-rule") };
  let shownKey = "";
  let controller = null;
  const scorecards = new Map();  // model -> Promise of its scorecard (or null when it has none)

  async function showScorecard(state) {
    if (!scorecards.has(state.model)) {
      const offered = app.catalog.model(state.model)?.has_scorecard;
      scorecards.set(state.model, offered ? api.getScorecard(state.model) : Promise.resolve(null));
    }
    try {
      const card = await scorecards.get(state.model);
      if (!card) {
        els.scorecard.tHead.replaceChildren();
        els.scorecard.tBodies[0].replaceChildren(el("tr", {}, el("td", { class: "empty" }, "No scorecard for this model yet (latentct scorecard).")));
        els.scorecardRule.textContent = "";
        return;
      }
      renderScorecard(card, state.set, els.scorecard, els.scorecardRule);
    } catch (error) {
      scorecards.delete(state.model);
      showError(error);
    }
  }

  const picker = createPicker(app, { model: $("review-model"), sets: [{ select: $("review-set") }] });

  async function load(state, key) {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    els.body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "empty" }, "Loading agreement…")));
    try {
      const token = session.token();
      const [agreement, terms] = await Promise.all([
        token ? api.getAgreement(state.model, state.set, token) : signedOutAgreement(app, state),
        app.catalog.vocabulary(),
      ]);
      if (signal.aborted || shownKey !== key) return;
      renderStats(agreement);
      els.body.replaceChildren(
        ...agreement.directions.map((d) => {
          const params = { seed: state.seed, set: state.set, direction: d.index, extent: state.extent, steps: REVIEW_STEPS, window: state.window };
          const share = d.share === null || d.share === undefined ? null : d.share;
          return el(
            "tr",
            { dataset: { direction: String(d.index) } },
            el("th", { scope: "row" }, `d${d.index}`),
            el("td", { class: "strip-cell" }, stripImage(state.model, params, `Direction ${d.index} traversal`, signal)),
            el("td", { class: "num" }, d.n_labels === null ? "—" : String(d.n_labels)),
            el("td", {}, consensusText(d, terms)),
            el(
              "td",
              { class: "share" },
              share === null
                ? "—"
                : [
                    el("meter", { min: "0", max: "1", value: String(share), "aria-label": `Share of direction ${d.index}` }),
                    ` ${Math.round(share * 100)}%`,
                  ],
            ),
          );
        }),
      );
    } catch (error) {
      if (shownKey === key) {
        shownKey = "";
        els.body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "empty" }, "Agreement could not be loaded (see the message above).")));
      }
      showError(error);
    }
  }

  function renderStats(agreement) {
    if (agreement.signedOut) {
      els.stats.replaceChildren(el("div", { class: "stat" }, el("dt", {}, "Agreement"),
        el("dd", {}, "shown to admins, and to annotators for the directions they labelled: sign in on the Label tab")));
      return;
    }
    const total = agreement.directions.reduce((sum, d) => sum + d.n_labels, 0);
    // a <div> around each dt/dd pair keeps a statistic and its value together when the line wraps
    const item = (term, value, words) =>
      el("div", { class: "stat" }, el("dt", {}, term), el("dd", {}, el("strong", {}, value), words ? ` ${words}` : ""));
    els.stats.replaceChildren(
      item("Fleiss' κ", formatStat(agreement.fleiss_kappa), `(${describeKappa(agreement.fleiss_kappa)})`),
      item("Krippendorff's α", formatStat(agreement.krippendorff_alpha), "(nominal)"),
      item("Current labels", String(total), `on ${agreement.directions.length} directions`),
    );
  }

  function sync(state) {
    picker.sync(state);
    if (!state.model || !state.set) return;
    const key = [state.model, state.set, state.seed, state.window, state.extent, session.token() ? "in" : "out"].join("|");
    if (key === shownKey) return;
    shownKey = key;
    load(state, key);
    showScorecard(state);
  }

  /** A label was saved: show fresh numbers next time. */
  function onLabelsChanged() {
    shownKey = "";
  }

  function hide() {
    controller?.abort();
    shownKey = "";
  }

  return { sync, hide, onLabelsChanged };
}
