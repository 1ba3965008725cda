// Fetching a volume for the Volume view: the NIfTI once (gunzipped and parsed in the browser) and its json
// description (shifts, direction and its source), for the generated volume or the real phantom patient beside it.

import * as api from "../api.js";
import { gunzip, parseNifti } from "./nifti.js";

/** Where a 422 about the direction names the set: say what to do about it. */
export function readableError(error, set) {
  if (error.status === 422 && /no slice-level direction/.test(error.message)) {
    return `${error.message}. Set ${set} has no direction marked as the slice level: pick one in the Direction menu.`;
  }
  if (error.status === 422 && /needs the phantom probe/.test(error.message)) {
    return `${error.message}. Choose the straight path, or serve the models with the probe beside them.`;
  }
  return error.message;
}

/** The server's choice of direction for the set, or why there is none: {direction, direction_source, detail}. */
export function fetchDefaultDirection(model, set, signal) {
  return api.request(`/models/${encodeURIComponent(model)}/volume/direction`, {
    query: { set }, signal, what: `Finding the slice-level direction of ${set}`,
  });
}

/** The words for a set without a slice-level direction (the server's `detail` names the set and what is missing). */
export const noDirectionText = (detail) => `${detail.replace(/; pass a direction index$/, "")}. Pick a direction in the Direction menu.`;

const volumePath = (model) => `/models/${encodeURIComponent(model)}/volume`;

/** A volume request: GET with the query, or, with a `base` ({latent, encoded_by}: an encoded slice), POST of the
 * same fields in a JSON body (no seed: the latent replaces it). */
export function volumeRequest(model, query, base, options) {
  if (!base) return api.request(volumePath(model), { ...options, query });
  const fields = { ...query };
  delete fields.seed;
  return api.request(volumePath(model), { ...options, method: "POST", json: { ...fields, ...base } });
}

/** {info, volume}: the json description (shifts, direction and its source; not measured) and the parsed NIfTI. */
export async function fetchVolume(model, query, signal, base = null) {
  const [info, volume] = await Promise.all([
    volumeRequest(model, { ...query, format: "json", measurements: false }, base,
      { signal, what: "Building the volume (description)" }),
    volumeRequest(model, { ...query, format: "nii.gz" }, base, { as: "blob", signal, what: "Building the volume" })
      .then(gunzip)
      .then(parseNifti),
  ]);
  return { info, volume };
}

/** {patient, split, volume}: the real phantom patient at the levels of the volume `query` builds (`patient`: null for
 * the server's default); which patient it is comes in the X-Reference-* headers. */
export async function fetchReference(model, query, patient, signal, base = null) {
  const response = await volumeRequest(model, { ...query, reference: "phantom", patient: patient ?? undefined, format: "nii.gz" },
    base, { as: "response", signal, what: "Building the real phantom volume" });
  const volume = parseNifti(await gunzip(await response.blob()));
  const headers = response.headers;
  return { patient: Number(headers.get("x-reference-patient")), split: headers.get("x-reference-split"),
    nearest: headers.get("x-reference-chosen-by") === "nearest", volume };
}
