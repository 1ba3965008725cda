// "Encode a slice": upload a DICOM/PNG/.npy slice, put its encoding in the state (the grid then shows it and the
// sliders move around it), say where the latent came from, and go back to seeds.

import * as api from "../api.js";
import { getState, setState } from "../state.js";
import { clearNotice, notify, showError } from "../ui.js";

const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

/** els: {panel (<details>), upload, box, text, clear}. Returns {sync(state), describe()}. */
export function createEncodePanel(els) {
  let info = null; // what the encode endpoint said about the current latent, with the file name

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
    notify(`Encoding ${file.name} with ${state.model}…`);
    try {
      const result = await api.encodeSlice(state.model, file);
      info = { ...result, name: file.name };
      setState({ latent: Float32Array.from(result.latent), shifts: {}, focus: null });
      notify(`Encoded ${file.name}`);
    } catch (error) {
      clearNotice(); // the "Encoding…" note is over
      showError(error, "Upload");
    } finally {
      els.upload.disabled = false;
      els.upload.value = "";
    }
  }

  els.upload.addEventListener("change", () => encode());
  els.clear.addEventListener("click", () => setState({ latent: null, shifts: {}, focus: null }));

  function sync(state) {
    els.box.hidden = !state.latent;
    if (!state.latent) {
      info = null;
      return;
    }
    els.panel.open = true; // a link with a latent shows where it came from
    els.text.textContent = info
      ? `${info.name}: encoded by ${info.method}, reconstruction error ${Number(info.reconstruction_mae_hu).toFixed(1)} HU (mean absolute).`
      : `An encoded slice (${state.latent.length} latent values, from the link).`;
  }

  /** "Encoded name (method)", or "Encoded slice" for a latent from a link. */
  const describe = () => (info ? `Encoded ${info.name} (${info.method})` : "Encoded slice");

  return { sync, describe };
}
