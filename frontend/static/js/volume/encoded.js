// A volume around an encoded slice (issue 20, item 1): Explore's encode band hands its latent to the Volume view. The
// latent itself lives in the state (the `#latent=` fragment, as in Explore); which model encoded it is kept here, so
// that choosing another model in the Volume view sends the original one as `encoded_by` and the server refuses it
// in words instead of silently building another model's volume from a latent that is not its own.

import { encodeLatent, setState } from "../state.js";

let origin = null; // {latent (the state's Float32Array), model, generator_checksum}

/** Switch to the Volume view around `latent`, encoded by `model` (generator `checksum`, as /encode answered). */
export function openAsVolume(latent, model, checksum) {
  origin = { latent, model, generator_checksum: checksum };
  setState({ view: "volume", model, latent, at: null }, { push: true });
}

/** Who encoded the state's latent: what Explore handed over, else (a latent from a link) the model in the address
 * when the view first saw it, with that model's checksum from the catalog; null without a latent. */
export function originOf(state, catalog) {
  if (!state.latent) return null;
  if (!origin || origin.latent !== state.latent) {
    origin = { latent: state.latent, model: state.model, generator_checksum: catalog.model(state.model)?.checksum ?? "" };
  }
  return origin;
}

/** The POST body's base for the state ({latent, encoded_by}), or null for a seed's volume. */
export function encodedBase(state, catalog) {
  const from = originOf(state, catalog);
  if (!from) return null;
  return { latent: Array.from(state.latent), encoded_by: { model: from.model, generator_checksum: from.generator_checksum } };
}

/** What tells two bases apart in a load key (the latent's bytes and who encoded it). */
export function baseKey(state, catalog) {
  const from = originOf(state, catalog);
  return from ? `latent:${from.model}:${encodeLatent(state.latent)}` : `seed:${state.seed}`;
}
