// The Volume view's line above the planes: the loading/error status, the level slider over the axial slice with the
// slice's shift along the direction, and the HU readout of the voxel under the pointer (or at the crosshair).

import { el } from "../ui.js";

/** The crosshair {s, r, c} of the address ("s,r,c"), inside the volume; the middle by default. */
export function cursorOf(state, vol) {
  const [s, r, c] = state.at ? state.at.split(",").map(Number) : [];
  const inside = (v, n) => (Number.isInteger(v) && v >= 0 && v < n ? v : Math.floor(n / 2));
  return { s: inside(s, vol.nz), r: inside(r, vol.ny), c: inside(c, vol.nx) };
}

export const atText = ({ s, r, c }) => `${s},${r},${c}`;

/** section: the view's section (its data-state says loading | ready | error); onLevel(slice) hears the slider. */
export function createToolbar(section, onLevel) {
  const status = el("p", { class: "volume-status", id: "volume-status", role: "status", "aria-live": "polite" });
  const level = el("input", { type: "range", id: "volume-level", min: "0", max: "0", step: "1", value: "0",
    "aria-label": "Level (axial slice)" });
  const levelText = el("span", { class: "volume-level-text", id: "volume-level-text" });
  const hu = el("output", { class: "volume-hu", id: "volume-hu", "aria-live": "off" }, "HU –");
  level.addEventListener("input", () => onLevel(Number(level.value)));
  const element = el("div", {}, status,
    el("div", { class: "volume-toolbar" }, el("label", { class: "volume-level" }, "Level", level), levelText, hu));

  return {
    element,
    setStatus(kind, text) {
      section.dataset.state = kind;
      status.className = `volume-status volume-status-${kind}`;
      status.setAttribute("role", kind === "error" ? "alert" : "status");
      status.textContent = text;
    },
    /** The slider at the cursor's slice; `info`: the json description (shifts per slice, direction) or null. */
    showLevel(vol, cursor, info) {
      level.max = String(vol.nz - 1);
      level.value = String(cursor.s);
      const shift = info?.shifts?.[cursor.s];
      const along = Number.isFinite(shift) ? ` · shift ${shift >= 0 ? "+" : "−"}${Math.abs(shift).toFixed(2)} along d${info.direction}` : "";
      levelText.textContent = `Slice ${cursor.s} of ${vol.nz - 1} (0: apex) · ${(cursor.s * vol.pz).toFixed(1)} mm${along}`;
    },
    /** The HU of voxel {s, r, c} of `vol`; `where` names the row. */
    showHu(vol, v, where) {
      hu.textContent = `HU ${Math.round(vol.at(v.s, v.r, v.c))} at slice ${v.s}, row ${v.r}, column ${v.c} (${where})`;
    },
  };
}
