// Label's head line: where the walk is (direction, position, progress) and what the player shows.

import { LABEL_SEEDS } from "./player.js";

/** els: {position, prev, next, progress, caption}; data: {info, mine} of the loaded set. */
export function renderHead(els, state, data) {
  const count = data.info.count;
  const position = data.info.directions.findIndex((d) => d.index === state.dir);
  els.position.textContent = `Direction d${state.dir} · ${position + 1} of ${count}`;
  els.prev.disabled = state.dir <= 0;
  els.next.disabled = state.dir >= count - 1;
  els.progress.textContent = `${data.mine.size} of ${count} labelled`;
  els.progress.dataset.labelled = String(data.mine.size);
  els.caption.textContent = `d${state.dir} from −${state.extent} to +${state.extent}, forth and back, on ${LABEL_SEEDS} seeds`;
}
