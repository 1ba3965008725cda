// The Review view: agreement of the annotators on one direction set (consensus and share per direction, Fleiss'
// kappa, Krippendorff's alpha) next to each direction's traversal, large enough to judge (frame size 128/192/256
// px, a shift caption under every frame) and clickable through to Explore and Label; the scorecard; and, for an
// admin, the label exports. Parts in review/.

import * as api from "./api.js";
import { createPicker } from "./picker.js";
import { createLabelExports } from "./review/exports.js";
import { createFrameSizeControl, resizeFrames, STRIP_STEPS } from "./review/frames.js";
import { agreementRow } from "./review/rows.js";
import { createScorecardPanel } from "./review/scorecard.js";
import { getState, session } from "./state.js";
import { $, el, showError } from "./ui.js";

export { renderScorecard } from "./review/scorecard.js";

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

function renderStats(box, agreement) {
  if (agreement.signedOut) {
    box.replaceChildren(el("div", { class: "stat" }, el("dt", {}, "Agreement"),
      el("dd", {}, "shown to admins, and to annotators for the directions they labelled: sign in on the Label tab")));
    return;
  }
  const total = agreement.directions.reduce((sum, d) => sum + d.n_labels, 0);
  // a <div> around each dt/dd pair keeps a statistic and its value together when the line wraps
  const item = (term, value, words) =>
    el("div", { class: "stat" }, el("dt", {}, term), el("dd", {}, el("strong", {}, value), words ? ` ${words}` : ""));
  box.replaceChildren(
    item("Fleiss' κ", formatStat(agreement.fleiss_kappa), `(${describeKappa(agreement.fleiss_kappa)})`),
    item("Krippendorff's α", formatStat(agreement.krippendorff_alpha), "(nominal)"),
    item("Current labels", String(total), `on ${agreement.directions.length} directions`),
  );
}

export function createReview(app) {
  const els = { stats: $("review-stats"), body: $("review-table").tBodies[0] };
  const scorecard = createScorecardPanel(app, { table: $("review-scorecard"), rule: $("review-scorecard-rule") });
  const frameSize = createFrameSizeControl("review-frame-size");
  const exports = createLabelExports(app);
  els.stats.before(frameSize.node, exports.node);
  let shownKey = "";
  let controller = null;
  const picker = createPicker(app, { model: $("review-model"), sets: [{ select: $("review-set") }] });
  const message = (text) => els.body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "empty" }, text)));

  async function load(state, key) {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    message("Loading agreement…");
    try {
      const token = session.token();
      const [agreement, terms] = await Promise.all([
        token ? api.getAgreement(state.model, state.set, token) : signedOutAgreement(app, state),
        app.catalog.vocabulary(),
      ]);
      if (signal.aborted || shownKey !== key) return;
      renderStats(els.stats, agreement);
      els.body.replaceChildren(...agreement.directions.map((d) => agreementRow(state, d, terms, STRIP_STEPS, signal)));
    } catch (error) {
      if (shownKey === key) {
        shownKey = "";
        message("Agreement could not be loaded (see the message above).");
      }
      showError(error);
    }
  }

  function sync(state) {
    picker.sync(state);
    frameSize.sync(state);
    resizeFrames(els.body, state.frame); // a new frame size needs no new strips
    exports.sync();
    if (!state.model || !state.set) return;
    const key = [state.model, state.set, state.seed, state.window, state.extent, session.token() ? "in" : "out"].join("|");
    if (key === shownKey) return;
    shownKey = key;
    load(state, key);
    scorecard.sync(state);
  }

  function hide() {
    controller?.abort();
    shownKey = "";
  }

  function onSignOut() { // what may be seen changed: the consensus and the exports go
    shownKey = "";
    if (app.view() === "review") sync(getState());
  }

  // a label was saved: fresh numbers next time
  return { sync, hide, onSignOut, onLabelsChanged: () => { shownKey = ""; } };
}
