// Submitting the Label form: the label is posted (label/save.js builds and sends it), the view moves on to the next
// unlabelled direction with the focus back on the terms, and the "others so far" line is refreshed with the set as
// the server now shows it to this annotator. `ctx` is the view's context (label.js).

import { Catalog } from "../catalog.js";
import { getState, setState } from "../state.js";
import { notify, showError } from "../ui.js";
import { loadSetForAnnotator } from "./data.js";
import { othersLine } from "./others.js";
import { labelBody, takesSignAndContext } from "./save.js";

/** The "others so far" line of the direction shown. */
export function renderOthers(ctx, state) {
  const { data, els, terms } = ctx;
  const consensus = data.info?.directions.find((d) => d.index === state.dir)?.consensus || null;
  els.others.textContent = othersLine({ unblinded: els.unblind.checked, consensus, mine: data.mine.get(state.dir) || null, terms: terms.terms });
}

/** Others' consensus now counts this label and may be shown for this direction: load the set again. */
function refreshConsensus(ctx, state) {
  loadSetForAnnotator(state.model, state.set).then((info) => {
    if (ctx.data.key !== `${state.model}/${state.set}`) return;
    ctx.data.info = info;
    if (ctx.app.view() === "label") renderOthers(ctx, getState());
  }, (error) => showError(error));
}

/** Save the form; then on to the next unlabelled direction, the focus back on the terms. */
export async function save(ctx) {
  const { app, data, els, terms } = ctx;
  const state = getState();
  const body = labelBody(state, terms, ctx.form, !els.unblind.checked);
  if (!body) return;
  els.save.disabled = true;
  try {
    const label = await ctx.saver.post(body, takesSignAndContext(terms.terms));
    data.mine.set(state.dir, label);
    app.catalog.invalidateSet(state.model, state.set);
    app.labelSaved();
    refreshConsensus(ctx, state);
    notify(`Saved: d${state.dir} is "${Catalog.termName(terms.terms, body.term)}"`);
    ctx.formKey = "";
    const next = data.info.directions.find((d) => d.index > state.dir && !data.mine.has(d.index));
    if (next) setState({ dir: next.index });
    else ctx.sync(getState());
    terms.focus(); // the next term key chooses a term, it does not type into a text field
  } catch (error) {
    if (error.status === 401) app.signOut();
    showError(error, "Label");
  } finally {
    els.save.disabled = false;
  }
}
