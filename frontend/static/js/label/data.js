// What the Label view loads for a model/set: the set (asked with the annotator's token, so the server may show the
// consensus of directions this annotator labelled), the vocabulary and the annotator's own current labels.

import * as api from "../api.js";
import { session } from "../state.js";

/** DirectionSetInfo as this annotator may see it (consensus blinded by the server). */
export function loadSetForAnnotator(model, set) {
  return api.request(`/models/${encodeURIComponent(model)}/directions/${encodeURIComponent(set)}`, {
    token: session.token(), what: `Loading direction set ${set} of ${model}`,
  });
}

/** {me, info, terms, mine: Map(direction -> current label)} for `state`'s model and set. */
export async function loadLabelContext(app, state) {
  const me = await app.me();
  const [info, terms, labels] = await Promise.all([
    loadSetForAnnotator(state.model, state.set),
    app.catalog.vocabulary(),
    // my own current labels only, also for admins (who may read everyone's)
    api.listLabels(session.token(), { model: state.model, set: state.set, annotator: me.id, current: true }),
  ]);
  const mine = new Map();
  for (const label of labels) {
    if (label.current !== false && label.annotator_id === me.id) mine.set(label.direction, label);
  }
  return { me, info, terms, mine };
}
