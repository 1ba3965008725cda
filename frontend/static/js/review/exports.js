// Review's label exports for an admin: "Export labels CSV" / "Export labels JSON" (GET /api/labels/export, admin
// token). The download needs the bearer token, so it is fetched with it and saved through a Blob URL and an
// <a download>. Signed out there is no button; an annotator who is not an admin is told why there is none.

import { request } from "../api.js";
import { session } from "../state.js";
import { el, showError } from "../ui.js";

/** Save `blob` as `filename` through a temporary object URL. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function exportLabels(format, button) {
  const token = session.token();
  button.disabled = true;
  try {
    const what = `Exporting the labels as ${format.toUpperCase()}`;
    const blob = await request("/labels/export", { query: { format }, token, as: "blob", what });
    saveBlob(blob, `labels.${format}`);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

function exportButton(format) {
  const button = el("button", { type: "button", class: "btn btn-small", dataset: { export: format } }, `Export labels ${format.toUpperCase()}`);
  button.addEventListener("click", () => exportLabels(format, button));
  return button;
}

/** The export box for Review's head: {node, sync()} (asks the app who is signed in). */
export function createLabelExports(app) {
  const node = el("div", { class: "label-exports", id: "review-exports", role: "group", "aria-label": "Label exports" });
  let shownFor = null;

  function sync() {
    const token = session.token();
    if (shownFor === token) return;
    shownFor = token;
    node.replaceChildren();
    if (!token) return; // signed out: no export at all
    app.me().then((me) => {
      if (session.token() !== token) return;
      if (me.role === "admin") node.replaceChildren(exportButton("csv"), exportButton("json"));
      else {
        node.replaceChildren(el("span", { class: "hint", dataset: { reason: "not-admin" } },
          "Label exports (CSV, JSON) are for admins: sign in with an admin token."));
      }
    }, (error) => showError(error, "Label exports"));
  }

  return { node, sync };
}
