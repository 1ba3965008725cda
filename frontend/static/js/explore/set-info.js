// The direction set Explore shows, as this user may see it, loaded once per model/set/sign-in and again after a label
// is saved elsewhere: the set (consensus asked with the token), the vocabulary, the model's scorecard (measured
// factors), the set's vectors (for the prior notice) and who is asking. Blinding: the consensus is shown to admins
// and to an annotator on directions they have labelled, never to a signed-out user; measured factors are shown to
// signed-out researchers and admins, and to an annotator only on directions they have labelled.

import * as api from "../api.js";
import { getState, session } from "../state.js";
import { showError } from "../ui.js";
import { HINT_METRICS, measuredFactor } from "./captions.js";

/** Who asks: {signedIn, admin, labelled: Set of direction indexes (null: not an annotator)}. */
async function whoAsks(app, state) {
  const token = session.token();
  if (!token) return { signedIn: false, admin: false, labelled: null };
  try {
    const me = await app.me();
    if (me.role === "admin") return { signedIn: true, admin: true, labelled: null };
    const labels = await api.listLabels(token, { model: state.model, set: state.set, annotator: me.id, current: true });
    const mine = (Array.isArray(labels) ? labels : labels.labels || []).filter((l) => l.current !== false && l.annotator_id === me.id);
    return { signedIn: true, admin: false, labelled: new Set(mine.map((l) => l.direction)) };
  } catch (error) {
    showError(error, "Sign-in");
    // a token that was refused signed the tab out; one that could not be checked stays blind to everything
    return session.token() ? { signedIn: true, admin: false, labelled: new Set() } : { signedIn: false, admin: false, labelled: null };
  }
}

/** What this user may see of direction `k`: {consensus, measured}. */
export function access(who, k) {
  if (!who.signedIn) return { consensus: false, measured: true };
  if (who.admin) return { consensus: true, measured: true };
  const labelled = Boolean(who.labelled && who.labelled.has(k));
  return { consensus: labelled, measured: labelled };
}

const withoutHints = (metrics) => Object.fromEntries(Object.entries(metrics || {}).filter(([k]) => !HINT_METRICS.includes(k)));

/** A direction as shown: consensus null and hints dropped where blinded, `measured` added where allowed. */
function blinded(direction, who, scorecardSet) {
  const may = access(who, direction.index);
  return {
    ...direction,
    consensus: may.consensus ? direction.consensus ?? null : null,
    metrics: may.measured ? direction.metrics || {} : withoutHints(direction.metrics),
    measured: may.measured ? measuredFactor(direction, scorecardSet) : null,
  };
}

const orNull = (promise) => promise.catch(() => null); // optional parts: a 404 scorecard, a server without vectors

export function createSetInfo(app) {
  const loaded = { key: "", info: null, terms: [], vectors: null, who: null };
  let loadingKey = "";

  const keyOf = (state) => `${state.model}/${state.set}|${session.token()}`;

  /** The vocabulary, or [] after saying why not (the sliders still work; terms then show as ids). */
  const vocabulary = () => app.catalog.vocabulary().catch((error) => {
    showError(error, "Consensus names");
    return [];
  });

  async function fetchAll(state) {
    const token = session.token();
    const [info, terms, scorecard, vectors, who] = await Promise.all([
      token ? api.getDirectionSet(state.model, state.set, token) : app.catalog.directionSet(state.model, state.set),
      vocabulary(),
      app.catalog.model(state.model)?.has_scorecard ? orNull(api.getScorecard(state.model)) : null,
      orNull(api.getDirectionVectors(state.model, state.set)),
      whoAsks(app, state),
    ]);
    const scorecardSet = scorecard?.sets?.[state.set] || null;
    const shown = { ...info, directions: info.directions.map((d) => blinded(d, who, scorecardSet)) };
    return { info: shown, terms, vectors: vectors?.directions || null, who };
  }

  /** Load the set of `state` unless it is loaded or loading; `onLoaded(info)` runs if it is still wanted then. */
  function load(state, onLoaded) {
    const key = keyOf(state);
    if (loadingKey === key) return;
    loadingKey = key;
    fetchAll(state).then(
      (result) => {
        if (loadingKey === key) loadingKey = "";
        if (keyOf(getState()) !== key) return;
        Object.assign(loaded, { key }, result);
        onLoaded(result.info);
      },
      (error) => {
        if (loadingKey === key) loadingKey = "";
        showError(error);
      },
    );
  }

  return {
    load,
    isLoaded: (state) => loaded.key === keyOf(state),
    get info() { return loaded.info; },
    get terms() { return loaded.terms; },
    get vectors() { return loaded.vectors; },
    get who() { return loaded.who; },
    /** Labels changed elsewhere, or the user signed out: load again (fresh consensus) next time. */
    invalidate: () => { loaded.key = ""; },
  };
}
