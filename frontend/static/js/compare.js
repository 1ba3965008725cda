// The Compare view: two direction sets of one model side by side: the cosine similarity of every pair of
// directions as a heatmap (with a colour legend, reachable by keyboard), and the one-to-one matching of A's
// directions to B's with the largest total |cos| (compare/assignment.js), each pair with both strips large,
// captioned and labelled where the viewer may see labels. The raw vectors come from an extension of the contract
// (GET /api/models/{model}/directions/{set}/vectors); a server without it gets a note instead of a guess.

import * as api from "./api.js";
import { cosineMatrix, matchDirections } from "./compare/assignment.js";
import { renderHeatmap } from "./compare/heatmap.js";
import { consensusTexts, pairItem, renderMatches } from "./compare/matches.js";
import { createPicker } from "./picker.js";
import { createFrameSizeControl, resizeFrames } from "./review/frames.js";
import { getState, session, setState } from "./state.js";
import { $, el, showError } from "./ui.js";

export { cosineMatrix, matchDirections } from "./compare/assignment.js";
export const VECTORS_ENDPOINT = "GET /api/models/{model}/directions/{set}/vectors";

/** Is this error the server lacking the route (FastAPI's bare "Not Found"), not an unknown model or set? */
function isMissingRoute(error) {
  return (error.status === 404 && (error.detail === "Not Found" || error.detail === null)) || error.status === 405;
}

function serverSupportNote() {
  return el("div", { class: "panel notice-panel", role: "note", dataset: { needs: "server-support" } },
    el("h2", { class: "panel-title" }, "Comparison needs server support"),
    el("p", {}, "Comparing sets needs the raw direction vectors, which this server does not provide yet."),
    el("p", {}, "Needed: ", el("code", {}, VECTORS_ENDPOINT), " answering ", el("code", {}, '{"directions": [[...], ...]}'),
      " (K rows of latent_dim floats)."));
}

/** The panel showing the pair picked on the heatmap (empty until one is picked). */
function pickedPanel() {
  return el("div", { class: "panel", id: "compare-picked", hidden: true },
    el("h2", { class: "panel-title" }, "The pair picked on the heatmap"), el("ul", { class: "matches" }));
}

async function loadComparison(app, state, signal) {
  const [a, b, terms] = await Promise.all([
    api.getDirectionVectors(state.model, state.set), api.getDirectionVectors(state.model, state.set2), app.catalog.vocabulary(),
  ]);
  const [labelsA, labelsB] = await Promise.all([
    consensusTexts(state.model, state.set, terms), consensusTexts(state.model, state.set2, terms),
  ]);
  const matrix = cosineMatrix(a.directions, b.directions);
  const ctx = { state, names: { a: state.set, b: state.set2 }, labels: { a: labelsA, b: labelsB }, signal };
  return { matrix, ctx, matching: matchDirections(matrix) };
}

export function createCompare(app) {
  const els = { body: $("compare-body") };
  const frameSize = createFrameSizeControl("compare-frame-size");
  $("compare-set-b").closest(".field").after(frameSize.node);
  let shownKey = "";
  let controller = null;
  const picker = createPicker(app, {
    model: $("compare-model"),
    sets: [{ select: $("compare-set-a") }, { select: $("compare-set-b"), key: "set2", first: (ids) => ids[1] || ids[0] || "" }],
  });

  function show({ matrix, ctx, matching }) {
    const picked = pickedPanel();
    const onPick = (a, b) => {
      picked.hidden = false;
      const now = { ...ctx, state: { ...ctx.state, frame: getState().frame } }; // the frame size may have changed
      picked.querySelector("ul").replaceChildren(pairItem(now, { a, b, cos: matrix[a][b] }));
      picked.scrollIntoView({ block: "nearest" });
    };
    els.body.replaceChildren(renderHeatmap(matrix, ctx.names, matching.pairs, onPick), picked, renderMatches(ctx, matching));
  }

  async function load(state, key) {
    controller?.abort();
    controller = new AbortController();
    els.body.replaceChildren(el("p", { class: "empty" }, "Loading the directions…"));
    try {
      const loaded = await loadComparison(app, state, controller.signal);
      if (shownKey === key) show(loaded);
    } catch (error) {
      if (shownKey !== key) return;
      if (isMissingRoute(error)) els.body.replaceChildren(serverSupportNote());
      else {
        els.body.replaceChildren(el("p", { class: "empty" }, "The comparison could not be loaded (see the message above)."));
        showError(error);
      }
    }
  }

  function sync(state) {
    const ids = picker.setIds(state.model);
    if (!ids.includes(state.set2)) {
      const other = ids.find((id) => id !== state.set) || state.set;
      if (other && other !== state.set2) {
        setState({ set2: other }); // B defaults to another set than A: this sync runs again
        return;
      }
    }
    picker.sync(state);
    frameSize.sync(state);
    resizeFrames(els.body, state.frame);
    if (!state.model || !state.set || !state.set2) return;
    const key = [state.model, state.set, state.set2, state.seed, state.window, state.extent, session.token() ? "in" : "out"].join("|");
    if (key === shownKey) return;
    shownKey = key;
    load(state, key);
  }

  function hide() {
    controller?.abort();
    shownKey = "";
  }

  return { sync, hide, onLabelsChanged: () => { shownKey = ""; }, onSignOut: () => { shownKey = ""; } };
}
