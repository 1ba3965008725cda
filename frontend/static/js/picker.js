// The model / direction-set picker shared by every view: fills the selects from the catalog, and turns a choice
// into one state change (a new model or set drops the shifts, focus, encoded slice and labelled direction).

import { Catalog } from "./catalog.js";
import { setState } from "./state.js";
import { fillSelect } from "./ui.js";

// what a different model or set makes meaningless
const RESET_ON_SET = Object.freeze({ shifts: {}, focus: null, dir: 0 });
const RESET_ON_MODEL = Object.freeze({ ...RESET_ON_SET, latent: null });

const modelLabel = (model) => `${model.id} (${model.kind.toUpperCase()})`;

function modelFacts(model) {
  if (!model) return "";
  const [lo, hi] = model.hu_range;
  const facts = `${model.kind.toUpperCase()} · latent ${model.latent_dim} · ${model.image_size} px · HU ${lo}..${hi}`;
  return model.description ? `${facts} · ${model.description}` : facts;
}

/**
 * Bind a model select and one or more set selects. Each set slot: {select, key = "set", first(ids) = ids[0],
 * resets = key === "set"}: `first` picks the slot's set when the model changes, `resets` says whether choosing it
 * drops the shifts etc. Options: facts (an element for the model's facts), filterSets(modelInfo) (the sets offered, default all).
 * Returns {sync(state)}.
 */
export function createPicker(app, { model, sets, facts = null, filterSets = (m) => m.direction_sets }) {
  const slots = sets.map(({ select, key = "set", first = (ids) => ids[0] || "", resets = key === "set" }) => (
    { select, key, first, resets }
  ));
  const setsOf = (modelId) => {
    const info = app.catalog.model(modelId);
    return info ? filterSets(info) : [];
  };

  model.addEventListener("change", () => {
    const ids = setsOf(model.value).map((s) => s.id);
    const patch = { model: model.value, ...RESET_ON_MODEL };
    for (const slot of slots) patch[slot.key] = slot.first(ids);
    setState(patch);
  });
  for (const slot of slots) {
    slot.select.addEventListener("change", () => {
      setState({ [slot.key]: slot.select.value, ...(slot.resets ? RESET_ON_SET : {}) });
    });
  }

  function sync(state) {
    fillSelect(model, (app.catalog.models || []).map((m) => ({ value: m.id, label: modelLabel(m) })), state.model);
    const options = setsOf(state.model).map((s) => ({ value: s.id, label: Catalog.setLabel(s) }));
    for (const slot of slots) fillSelect(slot.select, options, state[slot.key]);
    if (facts) facts.textContent = modelFacts(app.catalog.model(state.model));
  }

  /** The set ids the picker offers for a model. */
  const setIds = (modelId) => setsOf(modelId).map((s) => s.id);

  return { sync, setIds };
}
