// What the server offers (models, direction sets, vocabulary), fetched once per page and shared by the views.

import * as api from "./api.js";

export class Catalog {
  /** How a set is named in the pickers; the supervised set is a reference, not a discovery, and a set that a time
   * budget stopped early says how much of its training it had (a high reconstructor accuracy can hide that). */
  static setLabel(set) {
    const method = set.method === "supervised" ? "supervised reference" : set.method;
    const label = `${set.id} · ${method} · ${set.count}`;
    if (typeof set.trained !== "number" || set.trained >= 1) return label;
    const percent = set.trained < 0.01 ? "<1" : String(Math.floor(set.trained * 100));
    return `${label} · ${percent}% trained`;
  }

  constructor() {
    this.models = null; // ModelInfo[]
    this.modelsPromise = null;
    this.setInfos = new Map(); // "model/set" -> Promise<DirectionSetInfo>
    this.vocabularyPromise = null;
  }

  /** All models (ModelInfo[]), fetched once. */
  loadModels() {
    if (!this.modelsPromise) {
      this.modelsPromise = api.listModels().then(
        (models) => {
          this.models = models;
          return models;
        },
        (error) => {
          this.modelsPromise = null; // let a later call retry
          throw error;
        },
      );
    }
    return this.modelsPromise;
  }

  model(modelId) {
    return (this.models || []).find((m) => m.id === modelId) || null;
  }

  /** The direction set ids of a model, in the server's order. */
  setIds(modelId) {
    const model = this.model(modelId);
    return model ? model.direction_sets.map((s) => s.id) : [];
  }

  /** DirectionSetInfo (with consensus), cached until `invalidateSet` (after a label is saved). */
  directionSet(modelId, setId) {
    const key = `${modelId}/${setId}`;
    if (!this.setInfos.has(key)) {
      const promise = api.getDirectionSet(modelId, setId).catch((error) => {
        this.setInfos.delete(key);
        throw error;
      });
      this.setInfos.set(key, promise);
    }
    return this.setInfos.get(key);
  }

  invalidateSet(modelId, setId) {
    this.setInfos.delete(`${modelId}/${setId}`);
  }

  /** The label terms [{id, name, description, requires_text?}], fetched once. */
  vocabulary() {
    if (!this.vocabularyPromise) {
      this.vocabularyPromise = api.getVocabulary().then(
        (terms) => (Array.isArray(terms) ? terms : terms.terms || []),
        (error) => {
          this.vocabularyPromise = null;
          throw error;
        },
      );
    }
    return this.vocabularyPromise;
  }

  /** A term's display name, or its id when the vocabulary does not know it. */
  static termName(terms, termId) {
    const term = (terms || []).find((t) => t.id === termId);
    return term ? term.name : termId;
  }
}
