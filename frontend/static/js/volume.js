// The Volume view (issue 20): a synthetic volume built along a slice-level direction, loaded once as NIfTI and
// resliced in the browser: axial, coronal and sagittal reformats with a linked crosshair, a level slider, an HU
// readout, and below them the real phantom patient at the same levels and spacing. Research only. Around an encoded
// slice (Explore's "Open as volume") the same requests are POSTed with its latent instead of a seed (volume/encoded.js).

import { isAbort } from "./api.js";
import { getState, setState } from "./state.js";
import { el, windowWidthLevel } from "./ui.js";
import { createControls, volumeQuery } from "./volume/controls.js";
import { baseKey, encodedBase } from "./volume/encoded.js";
import { fetchDefaultDirection, fetchReference, fetchVolume, noDirectionText, readableError } from "./volume/loader.js";
import { mmScale } from "./volume/planes.js";
import { atText, createToolbar, cursorOf } from "./volume/toolbar.js";
import { createRow } from "./volume/viewer.js";

const AXIAL_PX = 208; // CSS px of the axial plane; the other planes share its mm scale
const SOURCES = { given: "chosen here", consensus: "the annotators' consensus", scorecard: "the scorecard's slice-level direction" };

export function createVolume(app, section) {
  const baseOf = (state) => encodedBase(state, app.catalog);
  const loadKey = (state) => [state.model, state.set, state.vdir, baseKey(state, app.catalog), state.slices, state.vpath].join("|");
  const aroundText = (base) => (base ? ` around your encoded slice (model ${base.encoded_by.model})` : "");
  const controls = createControls(app, baseOf);
  const loaded = { key: "", refKey: "", info: null };
  let controller = null; // the generated volume's requests
  let refController = null; // the real phantom patient's
  let hovered = null; // {rowId, voxel}
  let shownSet = null; // "model/set" of the last sync
  const onCursor = (voxel) => setState({ at: atText(voxel) });
  const onHover = (rowId, voxel) => {
    hovered = voxel ? { rowId, voxel } : null;
    updateReadout(getState());
  };
  const rows = { generated: createRow("generated", "Generated volume", { onCursor, onHover }),
    reference: createRow("reference", "Real phantom patient (training data)", { onCursor, onHover }) };
  const toolbar = createToolbar(section, (slice) => {
    const vol = rows.generated.volume;
    if (vol) setState({ at: atText({ ...cursorOf(getState(), vol), s: slice }) });
  });
  const setStatus = toolbar.setStatus;
  section.append(el("h1", { class: "visually-hidden" }, "Volume"),
    el("div", { class: "layout volume-layout" }, controls.element,
      el("div", { class: "workspace" },
        el("p", { class: "volume-notice", role: "note" }, "Synthetic volume, research only, not for clinical use"),
        toolbar.element, rows.generated.element, rows.reference.element)));

  function updateReadout(state) {
    const target = hovered && rows[hovered.rowId].volume ? hovered : null;
    const vol = target ? rows[target.rowId].volume : rows.generated.volume;
    if (!vol) return;
    const v = target ? target.voxel : cursorOf(state, vol);
    toolbar.showHu(vol, v, target?.rowId === "reference" ? "real phantom" : "generated");
  }

  function draw(state) {
    const vol = rows.generated.volume;
    if (!vol) return;
    const cursor = cursorOf(state, vol);
    const win = windowWidthLevel(state.window, app.catalog.model(state.model)?.hu_range);
    const scale = mmScale(vol, AXIAL_PX);
    rows.generated.show(vol, cursor, win, scale);
    const ref = rows.reference.volume;
    if (ref && ref.nx === vol.nx && ref.ny === vol.ny && ref.nz === vol.nz) rows.reference.show(ref, cursor, win, scale);
    toolbar.showLevel(vol, cursor, loaded.info);
    updateReadout(state);
  }

  function describe(info) {
    const source = SOURCES[info.direction_source] || info.direction_source;
    controls.setSource(`Walking d${info.direction} (${source}), ${info.path} path, ${info.slices} slices ` +
      `${info.slice_spacing_mm.toFixed(2)} mm apart, pixels ${info.pixel_spacing_mm.toFixed(2)} mm.`);
    const base = baseOf(getState());
    const around = base ? aroundText(base).trim() : `seed ${getState().seed}`;
    const notes = info.notes.filter((note) => !note.startsWith("around "));
    rows.generated.setStatus(`Set ${info.set}, d${info.direction}, ${around}` + (notes.length ? ` · ${notes.join("; ")}` : ""));
  }

  async function loadReference(state, key) {
    refController?.abort();
    refController = new AbortController();
    const { signal } = refController;
    rows.reference.clear("Rendering the real phantom patient at the same levels…");
    section.dataset.reference = "loading";
    try {
      const { patient, split, nearest, volume } = await fetchReference(state.model, volumeQuery(state), state.patient, signal,
        baseOf(state));
      if (loaded.refKey !== key) return;
      const from = split === "train" ? "training data" : split === "test" ? "held-out test patient" : "phantom data";
      rows.reference.setTitle(`Real phantom patient ${patient} (${from}${nearest ? ", the nearest to this volume" : ""})`);
      const dataSet = split === "unknown" ? "the default phantom data set (the model card names no training data)"
        : "the phantom data set the model was trained on";
      rows.reference.setStatus(`A patient of ${dataSet}, rendered at the generated volume's levels with its slice and pixel spacing.`);
      rows.reference.setVolume(volume);
      section.dataset.reference = "ready";
      draw(getState());
    } catch (error) {
      if (isAbort(error) || loaded.refKey !== key) return;
      section.dataset.reference = "error";
      rows.reference.clear(`The real phantom patient could not be shown: ${error.message}`);
    }
  }

  async function load(state) {
    controller?.abort();
    refController?.abort();
    controller = new AbortController();
    const { signal } = controller;
    const key = loadKey(state);
    Object.assign(loaded, { key, refKey: `${key}|${state.patient}`, info: null });
    rows.generated.clear();
    rows.reference.clear();
    const base = baseOf(state);
    setStatus("loading", `Building the volume${aroundText(base)} (1–3 s)…`);
    try {
      // a latent of another model: the server's words on it come before any about the direction
      const foreign = base && base.encoded_by.model !== state.model;
      const chosen = state.vdir === null && !foreign ? await fetchDefaultDirection(state.model, state.set, signal) : null;
      if (loaded.key !== key) return;
      if (chosen && chosen.direction === null) {
        controls.setSource("");
        setStatus("error", noDirectionText(chosen.detail));
        return;
      }
      const { info, volume } = await fetchVolume(state.model, volumeQuery(state), signal, base);
      if (loaded.key !== key) return;
      loaded.info = info;
      rows.generated.setVolume(volume);
      describe(info);
      setStatus("ready", `Volume ready${aroundText(base)}: ${volume.nz} slices of ${volume.nx} × ${volume.ny} px, resliced in the browser.`);
      draw(getState());
      loadReference(getState(), loaded.refKey);
    } catch (error) {
      if (isAbort(error) || loaded.key !== key) return;
      controls.setSource("");
      setStatus("error", readableError(error, state.set));
    }
  }

  function sync(state) {
    const setKey = `${state.model}/${state.set}`;
    if (shownSet !== null && shownSet !== setKey && state.vdir !== null) {
      shownSet = setKey;
      return setState({ vdir: null, at: null }); // a direction index means nothing in another set
    }
    shownSet = setKey;
    controls.sync(state);
    if (!state.model || !state.set) return setStatus("error", "No model or direction set is available.");
    const count = app.catalog.model(state.model)?.direction_sets.find((s) => s.id === state.set)?.count ?? 0;
    if (state.vdir !== null && state.vdir >= count) return setState({ vdir: null });
    if (loaded.key !== loadKey(state)) return load(state);
    if (loaded.refKey !== `${loaded.key}|${state.patient}` && rows.generated.volume) {
      loaded.refKey = `${loaded.key}|${state.patient}`;
      loadReference(state, loaded.refKey);
    }
    return draw(state);
  }

  function onKey(event) {
    const step = { ArrowUp: -1, ArrowDown: 1, PageUp: -10, PageDown: 10 }[event.key];
    const vol = rows.generated.volume;
    if (step === undefined || !vol) return controls.onKey(event);
    const cursor = cursorOf(getState(), vol);
    setState({ at: atText({ ...cursor, s: Math.max(0, Math.min(vol.nz - 1, cursor.s + step)) }) });
    return true;
  }

  /** Leaving the view stops what is still loading; it is fetched again when the view comes back. */
  function hide() {
    if (section.dataset.state === "loading") {
      controller?.abort();
      loaded.key = "";
    }
    if (section.dataset.reference === "loading") {
      refController?.abort();
      loaded.refKey = "";
    }
  }

  return { sync, onKey, hide };
}
