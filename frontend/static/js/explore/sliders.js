// The Explore sliders: one range input per direction of the set, each captioned readably (index, consensus where
// visible, measured factor; raw metrics in the tooltip), each move a state change; focusing a slider focuses its
// direction (whose strips are then prefetched for scrubbing). The list can be filtered and sorted (slider-list.js).

import { getState, setState } from "../state.js";
import { el, formatShift } from "../ui.js";
import { captionOf, metricsTooltip } from "./captions.js";
import { round4, shiftStep, withoutDirection } from "./keys.js";
import { access } from "./set-info.js";
import { createSliderList } from "./slider-list.js";

function sliderInput(k, extent, caption) {
  const input = el("input", {
    id: `explore-slider-${k}`, type: "range", min: String(-extent), max: String(extent), step: String(shiftStep(extent)),
    value: "0", "aria-label": `Direction ${k} shift${caption.about ? ` (${caption.about})` : ""}`, dataset: { direction: String(k) },
  });
  const takeFocus = () => {
    if (getState().focus !== k) setState({ focus: k });
  };
  input.addEventListener("focus", takeFocus);
  input.addEventListener("pointerdown", takeFocus);
  input.addEventListener("input", () => setState({ shifts: { ...getState().shifts, [k]: round4(Number(input.value)) }, focus: k }));
  return input;
}

/** The caption line: "d7", the consensus (or nothing where blinded), the measured factor; raw metrics as tooltip. */
function captionLabel(id, caption, direction, canSeeConsensus) {
  const consensus = caption.consensus
    ? el("span", { class: "consensus" }, caption.consensus)
    : canSeeConsensus ? el("span", { class: "consensus none" }, "no labels yet") : null;
  const tooltip = metricsTooltip(direction);
  return el("label", { for: id, class: "slider-label", title: tooltip ? `${caption.text}\n${tooltip}` : caption.text },
    el("span", { class: "dir-name" }, caption.index),
    consensus,
    caption.measured ? el("span", { class: "measured" }, caption.measured) : null);
}

function sliderRow(direction, extent, terms, canSeeConsensus) {
  const k = direction.index;
  const id = `explore-slider-${k}`;
  const caption = captionOf(direction, terms);
  const reset = el("button", {
    type: "button", class: "btn btn-small btn-icon", "aria-label": `Reset direction ${k}`, title: "Reset to 0",
    onclick: () => setState({ shifts: withoutDirection(getState().shifts, k), focus: k }),
  }, "↺");
  return el(
    "div",
    { class: "slider-row", dataset: { direction: String(k), caption: caption.text } },
    captionLabel(id, caption, direction, canSeeConsensus),
    el("div", { class: "slider-line" },
      sliderInput(k, extent, caption), el("output", { for: id, class: "slider-value" }, formatShift(0)), reset),
  );
}

/** One row's value, focus and spoken text, redone only when they changed (the hot path of a drag). */
function syncRow(row, state) {
  const k = Number(row.dataset.direction);
  const value = state.shifts[k] || 0;
  const focused = state.focus === k;
  if (row.dataset.value === String(value) && row.classList.contains("is-focus") === focused) return;
  row.dataset.value = String(value);
  const input = row.querySelector("input");
  if (Number(input.value) !== value) input.value = String(value);
  input.setAttribute("aria-valuetext", `${formatShift(value)}, ${row.dataset.caption}`);
  row.querySelector("output").textContent = formatShift(value);
  row.classList.toggle("is-focus", focused);
  row.classList.toggle("is-shifted", value !== 0);
}

/**
 * The slider list in `els.list`, its summary in `els.hint`, filtered by `els.filter` and sorted by `els.sort`.
 * `build(state, setInfo, terms, who)`: `who` from set-info.js says whether "no labels yet" may be said.
 */
export function createSliders(els) {
  const list = createSliderList(els);

  function build(state, setInfo, terms, who) {
    const mayKnow = (d) => Boolean(who && who.signedIn && access(who, d.index).consensus);
    const rows = new Map(setInfo.directions.map((d) => [d.index, sliderRow(d, state.extent, terms, mayKnow(d))]));
    list.show(setInfo, terms, rows);
  }

  function sync(state) {
    for (const row of els.list.querySelectorAll(".slider-row")) syncRow(row, state);
  }

  return { build, sync };
}
