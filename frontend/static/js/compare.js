// The Compare view: two direction sets of one model side by side: the cosine similarity of every pair of
// directions as a heatmap, and each direction of set A next to its best match in set B. The raw vectors come from
// an extension of the contract (GET /api/models/{model}/directions/{set}/vectors); until a server offers it the
// view says so instead of guessing.

import * as api from "./api.js";
import { createPicker } from "./picker.js";
import { setState } from "./state.js";
import { $, el, showError } from "./ui.js";

const COMPARE_STEPS = 9;
export const VECTORS_ENDPOINT = "GET /api/models/{model}/directions/{set}/vectors";

/** Cosine similarity of every row of `a` with every row of `b` ([K_a][K_b]); zero rows give 0. */
export function cosineMatrix(a, b) {
  const unit = (rows) =>
    rows.map((row) => {
      const norm = Math.hypot(...row);
      return norm > 0 ? row.map((v) => v / norm) : row.map(() => 0);
    });
  const ua = unit(a);
  const ub = unit(b);
  return ua.map((ra) => ub.map((rb) => ra.reduce((sum, v, i) => sum + v * rb[i], 0)));
}

/** For each row of A, the column of B with the largest |cos| (directions have no natural sign). */
export function bestMatches(matrix) {
  return matrix
    .map((row, i) => {
      let j = 0;
      row.forEach((v, k) => {
        if (Math.abs(v) > Math.abs(row[j])) j = k;
      });
      return { a: i, b: j, cos: row[j] };
    })
    .sort((x, y) => Math.abs(y.cos) - Math.abs(x.cos));
}

/** A diverging colour: blue for -1, near black for 0, amber for +1 (readable on the dark page). */
function cosColor(value) {
  const t = Math.max(-1, Math.min(1, value));
  const base = [28, 32, 38];
  const end = t >= 0 ? [240, 170, 60] : [70, 140, 240];
  const mix = Math.abs(t);
  return `rgb(${base.map((c, i) => Math.round(c + (end[i] - c) * mix)).join(",")})`;
}

/** Is this error the server lacking the route (FastAPI's bare "Not Found"), not an unknown model or set? */
function isMissingRoute(error) {
  return (error.status === 404 && (error.detail === "Not Found" || error.detail === null)) || error.status === 405;
}

/** A strip drawn on a canvas, frames in reverse order when `reversed` (the traversal of the negated direction). */
function stripCanvas(model, params, reversed, label, signal) {
  const canvas = el("canvas", { class: "strip", role: "img", "aria-label": label, width: 1, height: 1 });
  api
    .fetchTraversal(model, params, signal)
    .then(({ blob }) => createImageBitmap(blob))
    .then(
      (bitmap) => {
        const size = bitmap.height;
        const count = Math.round(bitmap.width / size);
        canvas.width = bitmap.width;
        canvas.height = size;
        const ctx = canvas.getContext("2d");
        for (let f = 0; f < count; f += 1) {
          const source = reversed ? count - 1 - f : f;
          ctx.drawImage(bitmap, source * size, 0, size, size, f * size, 0, size, size);
        }
      },
      (error) => showError(error, label),
    );
  return canvas;
}

export function createCompare(app) {
  const els = { body: $("compare-body") };
  let shownKey = "";
  let controller = null;

  const picker = createPicker(app, {
    model: $("compare-model"),
    sets: [{ select: $("compare-set-a") }, { select: $("compare-set-b"), key: "set2", first: (ids) => ids[1] || ids[0] || "" }],
  });

  function needsServerSupport() {
    els.body.replaceChildren(
      el(
        "div",
        { class: "panel notice-panel", role: "note", dataset: { needs: "server-support" } },
        el("h2", { class: "panel-title" }, "Comparison needs server support"),
        el("p", {}, "Comparing sets needs the raw direction vectors, which this server does not provide yet."),
        el("p", {}, "Needed: ", el("code", {}, VECTORS_ENDPOINT), " answering ", el("code", {}, '{"directions": [[...], ...]}'),
          " (K rows of latent_dim floats)."),
      ),
    );
  }

  function renderHeatmap(matrix, setA, setB) {
    const showNumbers = matrix.length <= 16 && matrix[0].length <= 16;
    const head = el("tr", {}, el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, `${setA} \\ ${setB}`)),
      ...matrix[0].map((_, j) => el("th", { scope: "col" }, `B${j}`)));
    const rows = matrix.map((row, i) =>
      el("tr", {}, el("th", { scope: "row" }, `A${i}`),
        ...row.map((v, j) =>
          el("td", {
            style: { background: cosColor(v) }, title: `${setA} d${i} · ${setB} d${j}: cos ${v.toFixed(3)}`,
            "aria-label": `A${i} and B${j}: cosine ${v.toFixed(2)}`, class: Math.abs(v) > 0.55 ? "strong" : "",
          }, showNumbers ? v.toFixed(2) : ""),
        )),
    );
    return el(
      "div",
      { class: "panel" },
      el("h2", { class: "panel-title" }, `Cosine similarity: A = ${setA} (rows), B = ${setB} (columns)`),
      el("div", { class: "heatmap-wrap" }, el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, rows))),
      el("p", { class: "hint" }, "Amber: same direction, blue: opposite, dark: unrelated. Directions have no natural sign, so |cos| near 1 is a match."),
    );
  }

  function renderMatches(state, matches, setA, setB, signal) {
    const params = (set, direction) => ({ seed: state.seed, set, direction, extent: state.extent, steps: COMPARE_STEPS, window: state.window });
    return el(
      "div",
      { class: "panel" },
      el("h2", { class: "panel-title" }, "Each direction of A with its closest direction of B"),
      el(
        "ul",
        { class: "matches" },
        ...matches.map((m) =>
          el(
            "li",
            { class: "match" },
            el("p", { class: "match-title" },
              `A d${m.a} ↔ B d${m.b} · cos ${m.cos.toFixed(3)}${m.cos < 0 ? " (opposite sign: B shown reversed)" : ""}`),
            el("div", { class: "match-strips" },
              el("span", { class: "strip-tag" }, "A"), stripCanvas(state.model, params(setA, m.a), false, `${setA} d${m.a}`, signal),
              el("span", { class: "strip-tag" }, "B"), stripCanvas(state.model, params(setB, m.b), m.cos < 0, `${setB} d${m.b}`, signal)),
          ),
        ),
      ),
    );
  }

  async function load(state, key) {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    els.body.replaceChildren(el("p", { class: "empty" }, "Loading the directions…"));
    const setA = state.set;
    const setB = state.set2;
    try {
      const [a, b] = await Promise.all([api.getDirectionVectors(state.model, setA), api.getDirectionVectors(state.model, setB)]);
      if (shownKey !== key) return;
      const matrix = cosineMatrix(a.directions, b.directions);
      els.body.replaceChildren(renderHeatmap(matrix, setA, setB), renderMatches(state, bestMatches(matrix), setA, setB, signal));
    } catch (error) {
      if (shownKey !== key) return;
      if (isMissingRoute(error)) needsServerSupport();
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
    if (!state.model || !state.set || !state.set2) return;
    const key = [state.model, state.set, state.set2, state.seed, state.window, state.extent].join("|");
    if (key === shownKey) return;
    shownKey = key;
    load(state, key);
  }

  function hide() {
    controller?.abort();
    shownKey = "";
  }

  return { sync, hide };
}
