// The Volume view's sidebar: model and set (the shared picker), direction (default: the server's choice), seed,
// slices, path, the real phantom patient, the HU window (Explore's window controls) and the export links. Around an
// encoded slice the seed gives way to a line naming it, and the exports POST its latent (fetched, then saved).

import { apiUrl, isAbort } from "../api.js";
import { createWindowControls } from "../explore/window-controls.js";
import { createPicker } from "../picker.js";
import { getState, MAX_SEED, randomSeed, setState, VOLUME_PATHS, VOLUME_SLICES } from "../state.js";
import { el, fillSelect, notify, showError } from "../ui.js";
import { volumeRequest } from "./loader.js";

const AUTO = "auto";

function numberInput(id, min, max, attrs = {}) {
  return el("input", { id, type: "number", inputmode: "numeric", min: String(min), max: String(max), step: "1", ...attrs });
}

function field(label, control, extra = "") {
  return el("label", { class: `field ${extra}`.trim() }, label, control);
}

/** The sidebar's elements (ids prefixed volume-). */
function buildElements() {
  const e = {
    model: el("select", { id: "volume-model", "data-role": "model-select" }),
    facts: el("p", { class: "model-facts", id: "volume-model-facts" }),
    set: el("select", { id: "volume-set", "data-role": "set-select" }),
    direction: el("select", { id: "volume-direction" }),
    source: el("p", { class: "hint", id: "volume-direction-source", "aria-live": "polite" }),
    seed: numberInput("volume-seed", 0, MAX_SEED),
    random: el("button", { type: "button", class: "btn", id: "volume-random", title: "A random seed" }, "Random"),
    encodedText: el("span", { id: "volume-encoded-text" }),
    seeds: el("button", { type: "button", class: "btn", id: "volume-encoded-clear" }, "Use a seed instead"),
    slices: numberInput("volume-slices", VOLUME_SLICES.min, VOLUME_SLICES.max),
    path: el("select", { id: "volume-path" }, ...VOLUME_PATHS.map((p) => el("option", { value: p }, p))),
    patient: numberInput("volume-patient", 0, 999999, { placeholder: "default" }),
    presets: el("div", { class: "window-presets", role: "group", "aria-label": "Window presets (keys 1 to 4)", id: "volume-windows" }),
    width: el("input", { id: "volume-window-w", type: "number", step: "1", min: "1", max: "10000", inputmode: "numeric" }),
    level: el("input", { id: "volume-window-l", type: "number", step: "1", min: "-2000", max: "4000", inputmode: "numeric" }),
    exportNifti: el("a", { class: "btn", id: "volume-export-nifti", download: "" }, "NIfTI (.nii.gz)"),
    exportDicom: el("a", { class: "btn", id: "volume-export-dicom", download: "" }, "DICOM series (.zip)"),
  };
  e.encoded = el("p", { class: "hint", id: "volume-encoded", hidden: true }, e.encodedText, " ", e.seeds);
  e.form = el("form", { class: "field-row", id: "volume-window-custom" }, field("W (HU)", e.width, "grow"),
    field("L (HU)", e.level, "grow"), el("button", { type: "submit", class: "btn" }, "Apply"));
  return e;
}

function layout(e) {
  return el("aside", { class: "sidebar", "aria-label": "Volume controls" },
    el("fieldset", { class: "panel" }, el("legend", {}, "Volume"), field("Model", e.model), e.facts, field("Direction set", e.set),
      field("Direction", e.direction), e.source,
      el("div", { class: "field-row" }, field("Seed", e.seed, "grow"), e.random), e.encoded,
      el("div", { class: "field-row" }, field(`Slices (${VOLUME_SLICES.min}..${VOLUME_SLICES.max})`, e.slices, "grow"),
        field("Path", e.path, "grow")),
      field("Real phantom patient", e.patient)),
    el("fieldset", { class: "panel" }, el("legend", {}, "HU window"), e.presets, e.form),
    el("fieldset", { class: "panel" }, el("legend", {}, "Export (research only)"),
      el("div", { class: "toolbar-buttons" }, e.exportNifti, e.exportDicom),
      el("p", { class: "hint" }, "The generated volume with the current parameters; synthetic, not for clinical use.")));
}

/** An integer typed into `input` within [min, max], else null (and the input is reset by the next sync). */
function typedInt(input, min, max, what) {
  const value = Number(input.value);
  if (input.value.trim() !== "" && Number.isInteger(value) && value >= min && value <= max) return value;
  showError(new Error(`${what} ${JSON.stringify(input.value)} must be an integer from ${min} to ${max}`), "Volume");
  return null;
}

function bind(e) {
  e.direction.addEventListener("change", () => setState({ vdir: e.direction.value === AUTO ? null : Number(e.direction.value), at: null }));
  e.random.addEventListener("click", () => setState({ seed: randomSeed() }));
  e.seeds.addEventListener("click", () => setState({ latent: null, at: null }));
  e.seed.addEventListener("change", () => {
    const seed = typedInt(e.seed, 0, MAX_SEED, "seed");
    setState(seed === null ? {} : { seed });
  });
  e.slices.addEventListener("change", () => {
    const slices = typedInt(e.slices, VOLUME_SLICES.min, VOLUME_SLICES.max, "slices");
    setState(slices === null ? {} : { slices, at: null });
  });
  e.path.addEventListener("change", () => setState({ vpath: e.path.value }));
  e.patient.addEventListener("change", () => {
    if (e.patient.value.trim() === "") return setState({ patient: null });
    const patient = typedInt(e.patient, 0, 999999, "patient");
    return setState(patient === null ? {} : { patient });
  });
}

/** The volume query of a state (what the server needs to build it; `direction` left out for the server's choice). */
export function volumeQuery(state) {
  return { set: state.set, direction: state.vdir ?? undefined, seed: state.seed, slices: state.slices, path: state.vpath };
}

/** Save a POSTed volume (an encoded slice's: a link cannot carry its latent) under the server's file name. */
async function download(model, query, base, link) {
  link.setAttribute("aria-busy", "true");
  try {
    const response = await volumeRequest(model, query, base, { as: "response", what: "Exporting the volume" });
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "")?.[1] || `volume.${query.format}`;
    const url = URL.createObjectURL(await response.blob());
    const save = el("a", { href: url, download: name, hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    notify(`Saved ${name} (synthetic, research only, not for clinical use)`);
  } catch (error) {
    if (!isAbort(error)) showError(error, "Volume export");
  } finally {
    link.removeAttribute("aria-busy");
  }
}

/** `baseOf(state)`: {latent, encoded_by} around an encoded slice, else null (volume/encoded.js).
 * Returns {element, sync(state, model), onKey(event), setSource(text)}. */
export function createControls(app, baseOf) {
  const e = buildElements();
  const picker = createPicker(app, { model: e.model, sets: [{ select: e.set }], facts: e.facts });
  const windows = createWindowControls({ presets: e.presets, form: e.form, width: e.width, level: e.level });
  bind(e);
  let exporting = null; // {model, query, base} of an encoded volume, else null (the links download by GET)
  let kept = null; // the encoded latent the view was built around when another model was chosen
  // The shared picker drops an encoded slice with the model; the volume keeps it (noted while the change event is
  // captured on its way down, put back after the picker's listener), so the other model is asked with `encoded_by`
  // and its refusal is shown, not a seed's volume in its place.
  const element = layout(e);
  element.addEventListener("change", (event) => {
    if (event.target === e.model) kept = baseOf(getState()) ? getState().latent : null;
  }, true);
  e.model.addEventListener("change", () => kept && setState({ latent: kept }));
  for (const [link, format] of [[e.exportNifti, "nii.gz"], [e.exportDicom, "dicom-zip"]]) {
    link.addEventListener("click", (event) => {
      if (!exporting) return;
      event.preventDefault();
      download(exporting.model, { ...exporting.query, format }, exporting.base, link);
    });
  }

  function syncBase(state) {
    const base = baseOf(state);
    e.encoded.hidden = !base;
    e.seed.disabled = Boolean(base);
    e.random.disabled = Boolean(base);
    if (base) e.encodedText.textContent = `Around your encoded slice (model ${base.encoded_by.model}), not a seed.`;
    exporting = base ? { model: state.model, query: volumeQuery(state), base } : null;
    return base;
  }

  function sync(state) {
    const model = app.catalog.model(state.model);
    picker.sync(state);
    windows.sync(state, model);
    const count = model?.direction_sets.find((s) => s.id === state.set)?.count ?? 0;
    const options = [{ value: AUTO, label: "Server's choice (consensus, else scorecard)" },
      ...Array.from({ length: count }, (_, k) => ({ value: String(k), label: `d${k}` }))];
    fillSelect(e.direction, options, state.vdir === null ? AUTO : String(state.vdir));
    const typing = document.activeElement;
    if (typing !== e.seed) e.seed.value = String(state.seed);
    if (typing !== e.slices) e.slices.value = String(state.slices);
    if (typing !== e.patient) e.patient.value = state.patient === null ? "" : String(state.patient);
    e.path.value = state.vpath;
    const path = `/models/${encodeURIComponent(state.model)}/volume`;
    const base = syncBase(state);
    e.exportNifti.href = base ? "#volume-export" : apiUrl(path, { ...volumeQuery(state), format: "nii.gz" });
    e.exportDicom.href = base ? "#volume-export" : apiUrl(path, { ...volumeQuery(state), format: "dicom-zip" });
  }

  return { element, sync, onKey: windows.onKey, setSource: (text) => { e.source.textContent = text; } };
}
