// "Encode a slice": upload a DICOM/PNG/.npy slice, put its encoding in the state (the grid then shows it and the
// sliders move around it), say where the latent came from, and go back to seeds. While the server encodes (a GAN
// optimises a latent for seconds) a band above the grid counts the seconds and offers Cancel; afterwards the band
// shows the slice as the server read it beside its reconstruction, their difference and the mean absolute error.

import * as api from "../api.js";
import { getState, setState } from "../state.js";
import { clearNotice, el, notify, showError, windowWidthLevel } from "../ui.js";
import { openAsVolume } from "../volume/encoded.js";
import { createDifferenceLegend, differenceScale, drawDifference, drawHu } from "./hu-maps.js";

const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

function figure(caption, canvas, ...extra) {
  return el("figure", { class: "encode-figure" }, canvas, el("figcaption", {}, caption), ...extra);
}

/** The band's parts: progress (elapsed seconds, Cancel) and the result (error line, three images, legend). */
function buildBand(container, onCancel, onVolume) {
  const elapsed = el("span", { class: "encode-elapsed", id: "explore-encode-elapsed" }, "0.0 s");
  const progressText = el("span", {}, "");
  const cancel = el("button", { type: "button", class: "btn", id: "explore-encode-cancel", onclick: onCancel }, "Cancel");
  const progress = el("div", { class: "encode-progress", role: "status" }, progressText, elapsed, cancel);
  const errorLine = el("p", { class: "encode-error-line", id: "explore-encode-error" });
  const canvases = {
    original: el("canvas", { class: "encode-image", id: "explore-encode-original", role: "img", "aria-label": "The uploaded slice as the server read it" }),
    reconstruction: el("canvas", { class: "encode-image", id: "explore-encode-reconstruction", role: "img", "aria-label": "Its reconstruction by the model" }),
    difference: el("canvas", { class: "encode-image", id: "explore-encode-difference", role: "img", "aria-label": "Reconstruction minus original, in HU" }),
  };
  const legend = createDifferenceLegend("reconstruction − original");
  const images = el("div", { class: "encode-images" },
    figure("Original (as read, resized)", canvases.original),
    figure("Reconstruction", canvases.reconstruction),
    figure("Difference", canvases.difference, legend.element));
  const volume = el("button", { type: "button", class: "btn", id: "explore-encode-volume", onclick: onVolume,
    title: "The Volume view: a stack along a slice-level direction through this encoded slice" }, "Open as volume");
  const result = el("div", { class: "encode-summary" }, el("div", { class: "toolbar-buttons" }, errorLine, volume), images);
  container.replaceChildren(progress, result);
  return { progress, progressText, elapsed, cancel, result, errorLine, canvases, legend };
}

/**
 * els: {panel (<details>), upload, box, text, clear, result (the band above the grid)}; `modelOf(id)` gives a
 * model's catalog entry (its hu_range). Returns {sync(state), describe(), busy()}.
 */
export function createEncodePanel(els, modelOf) {
  let info = null; // what the encode endpoint said about the current latent, with the file name
  let running = null; // {controller, timer}: an encode in flight
  const band = buildBand(els.result, () => running?.controller.abort(),
    () => info && openAsVolume(getState().latent, info.model, info.generator_checksum));

  function showProgress(file, model) {
    const started = performance.now();
    band.progressText.textContent = `Encoding ${file.name} with ${model}… `;
    band.elapsed.textContent = "0.0 s";
    band.progress.hidden = false;
    band.result.hidden = true;
    els.result.hidden = false;
    const timer = window.setInterval(() => {
      band.elapsed.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    }, 100);
    running = { controller: new AbortController(), timer };
    return running.controller.signal;
  }

  function endProgress() {
    window.clearInterval(running?.timer);
    running = null;
    band.progress.hidden = true;
    sync(getState());
  }

  async function encode() {
    const file = els.upload.files && els.upload.files[0];
    if (!file) return;
    const state = getState();
    if (file.size > MAX_UPLOAD_BYTES) {
      showError(new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; at most 16 MiB can be encoded`), "Upload");
      els.upload.value = "";
      return;
    }
    els.upload.disabled = true;
    const signal = showProgress(file, state.model);
    try {
      const result = await api.encodeSlice(state.model, file, { images: true, signal });
      info = { ...result, name: file.name, model: state.model };
      setState({ latent: Float32Array.from(result.latent), shifts: {}, focus: null });
      notify(`Encoded ${file.name}`);
    } catch (error) {
      clearNotice();
      if (api.isAbort(error)) notify(`Encoding ${file.name} cancelled`);
      else showError(error, "Upload");
    } finally {
      els.upload.disabled = false;
      els.upload.value = "";
      endProgress();
    }
  }

  els.upload.addEventListener("change", () => encode());
  els.clear.addEventListener("click", () => setState({ latent: null, shifts: {}, focus: null }));

  /** Original, reconstruction (in the state's window) and their difference, with the error on top. */
  function drawResult(state) {
    const { size, original_hu: original, reconstruction_hu: reconstruction } = info.images;
    const window = windowWidthLevel(state.window, modelOf(info.model)?.hu_range);
    drawHu(band.canvases.original, size, original, window);
    drawHu(band.canvases.reconstruction, size, reconstruction, window);
    const differences = reconstruction.map((v, i) => v - original[i]);
    const scale = differenceScale(differences);
    drawDifference(band.canvases.difference, size, differences, scale);
    band.legend.set(scale);
    const seconds = Number(info.seconds ?? 0).toFixed(1);
    band.errorLine.replaceChildren(
      el("strong", {}, `${Number(info.reconstruction_mae_hu).toFixed(1)} HU`),
      ` mean absolute reconstruction error · ${info.name} · ${info.method} in ${seconds} s · research only, not for clinical use`,
    );
    band.result.hidden = false;
  }

  function sync(state) {
    els.box.hidden = !state.latent;
    if (!state.latent) info = null;
    if (!running) els.result.hidden = !(info && info.images);
    if (info && info.images && !running) drawResult(state);
    if (!state.latent) return;
    els.panel.open = true; // a link with a latent shows where it came from
    els.text.textContent = info
      ? `${info.name}: encoded by ${info.method}, reconstruction error ${Number(info.reconstruction_mae_hu).toFixed(1)} HU (mean absolute).`
      : `An encoded slice (${state.latent.length} latent values, from the link).`;
  }

  /** "Encoded name (method)", or "Encoded slice" for a latent from a link. */
  const describe = () => (info ? `Encoded ${info.name} (${info.method})` : "Encoded slice");

  return { sync, describe, busy: () => Boolean(running) };
}
