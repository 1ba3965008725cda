// The slider list's filter (text over the captions: index, consensus term, measured factor) and sort order (index
// or rank, label, measured factor). Rows are built by sliders.js; this only orders and hides them.

import { sortDirections } from "./captions.js";

/** els: {list, hint, filter (input), sort (select)}. Returns {show(setInfo, terms, rows: Map index -> row)}. */
export function createSliderList(els) {
  let current = null; // {setInfo, terms, rows}

  function apply() {
    if (!current) return;
    const { setInfo, terms, rows } = current;
    const words = els.filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const ordered = sortDirections(setInfo.directions, els.sort.value, terms).map((d) => rows.get(d.index));
    let shown = 0;
    for (const row of ordered) {
      const caption = row.dataset.caption.toLowerCase();
      row.hidden = !words.every((w) => caption.includes(w));
      if (!row.hidden) shown += 1;
    }
    els.list.replaceChildren(...ordered);
    const summary = `${setInfo.count} in ${setInfo.id} (${setInfo.method}); several combine`;
    els.hint.textContent = shown === ordered.length ? summary : `${shown} of ${summary}`;
  }

  els.filter.addEventListener("input", apply);
  els.sort.addEventListener("change", apply);

  return {
    show(setInfo, terms, rows) {
      current = { setInfo, terms, rows };
      apply();
    },
  };
}
