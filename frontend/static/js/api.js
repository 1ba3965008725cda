// The only door to the server: fetch wrappers for the REST contract that turn every failure into an ApiError
// whose message a clinician can read (what failed, why, what to do).

const meta = document.querySelector('meta[name="latentct-api-base"]');
export const API_BASE = (meta && meta.content ? meta.content : "/api").replace(/\/$/, "");

/** An error from the API or the network; `message` is readable, `status` is the HTTP status (0: no answer). */
export class ApiError extends Error {
  constructor(message, status = 0, detail = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

const STATUS_WORDS = {
  400: "Bad request",
  401: "Sign-in needed",
  403: "Not allowed",
  404: "Not found",
  405: "Not supported by this server",
  413: "Too large",
  415: "Unsupported file type",
  422: "Invalid input",
  429: "Too many requests",
  500: "Server error",
  502: "Server unreachable",
  503: "Server busy",
  504: "Server timeout",
};

/** Render FastAPI's `detail` (a string, or a list of validation errors) as one sentence. */
export function describeDetail(detail) {
  if (detail == null) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        if (item && typeof item === "object") {
          const where = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body" && p !== "query").join(".") : "";
          return where ? `${where}: ${item.msg}` : String(item.msg ?? JSON.stringify(item));
        }
        return String(item);
      })
      .join("; ");
  }
  if (typeof detail === "object" && detail.message) return String(detail.message);
  return JSON.stringify(detail);
}

async function errorFromResponse(response, what) {
  let detail = null;
  const type = response.headers.get("content-type") || "";
  try {
    if (type.includes("json")) {
      const body = await response.json();
      detail = body && "detail" in body ? body.detail : body;
    } else {
      const text = (await response.text()).trim();
      detail = text.length > 300 ? `${text.slice(0, 300)}…` : text;
    }
  } catch {
    detail = null;
  }
  const words = STATUS_WORDS[response.status] || `HTTP ${response.status}`;
  let reason = describeDetail(detail);
  if (response.status === 503) {
    const retry = response.headers.get("retry-after");
    reason = `${reason || "the server is overloaded or still loading models"}${retry ? `; try again in ${retry} s` : "; try again shortly"}`;
  }
  if (response.status === 401 && !reason) reason = "the annotator token is missing or not accepted";
  const message = `${what} failed — ${words} (${response.status})${reason ? `: ${reason}` : ""}`;
  return new ApiError(message, response.status, detail);
}

/** Build `/api/...?a=1&shift=0:1&shift=2:-1` from a path and a query object (arrays repeat the key). */
export function apiUrl(path, query = null) {
  const url = new URL(`${API_BASE}${path}`, window.location.origin);
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, String(v)));
      else url.searchParams.set(key, String(value));
    }
  }
  return url.pathname + url.search;
}

/**
 * Call the API. Options: method, query, json (a body sent as JSON), form (FormData), token (bearer),
 * headers (extra request headers), as ("json" | "blob" | "response"), signal, priority ("high" | "low": a hint to
 * the browser's scheduler, where supported), what (words naming the action for error messages).
 * Throws ApiError with a readable message; an AbortError passes through untouched (the caller superseded it).
 */
export async function request(path, options = {}) {
  const { method = "GET", query = null, json, form, token, as = "json", signal, priority, what = `${method} ${path}` } = options;
  const headers = { ...(options.headers || {}) };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(apiUrl(path, query), { method, headers, body, signal, ...(priority ? { priority } : {}) });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(`${what} failed — cannot reach the LatentCT server (${error.message || "network error"}). Is it running?`, 0);
  }
  if (!response.ok) throw await errorFromResponse(response, what);
  if (as === "response") return response;
  if (as === "blob") return response.blob();
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw new ApiError(`${what} failed — the server's answer was not JSON`, response.status);
  }
}

export function isAbort(error) {
  return Boolean(error && error.name === "AbortError");
}

// ---- typed helpers, one per contract endpoint the page uses ---------------------------------------------------

/** The `shift` query values (`k:v`) of a shifts object {k: v}, zeros dropped, sorted for stable cache keys. */
export function shiftParams(shifts) {
  return Object.entries(shifts || {})
    .filter(([, v]) => Number(v) !== 0)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k}:${Number(v)}`);
}

export const listModels = () => request("/models", { what: "Loading the model list" });
export const getModel = (model) => request(`/models/${encodeURIComponent(model)}`, { what: `Loading model ${model}` });
/** `token` (optional): the consensus is answered only to a signed-in annotator (see docs/api.md). */
export const getDirectionSet = (model, set, token = "") =>
  request(`/models/${encodeURIComponent(model)}/directions/${encodeURIComponent(set)}`, {
    token: token || undefined, what: `Loading direction set ${set} of ${model}`,
  });
/** Agreement is answered only with a token (issue 19): to admins in full, to annotators for what they labelled. */
export const getAgreement = (model, set, token) =>
  request(`/models/${encodeURIComponent(model)}/directions/${encodeURIComponent(set)}/agreement`, {
    token, what: `Loading agreement for ${set}`,
  });
/** Extension: the model's scorecard (404 when `latentct scorecard` has not been run for it). */
export const getScorecard = (model) =>
  request(`/models/${encodeURIComponent(model)}/scorecard`, { what: `Loading the scorecard of ${model}` });
export const getVocabulary = () => request("/vocabulary", { what: "Loading the vocabulary" });

/** Proposed extension (not in contract v1): raw direction vectors `{"directions": [[...], ...]}`. */
export const getDirectionVectors = (model, set) =>
  request(`/models/${encodeURIComponent(model)}/directions/${encodeURIComponent(set)}/vectors`, {
    what: `Loading the vectors of ${set}`,
  });

/** One image as a Blob. params: seed, set, shifts, window, scale; `priority` as for `request`. */
export function fetchImage(model, params, signal, priority) {
  return request(`/models/${encodeURIComponent(model)}/image.png`, {
    query: { seed: params.seed, set: params.set, shift: shiftParams(params.shifts), window: params.window, scale: params.scale },
    as: "blob",
    signal,
    priority,
    what: "Rendering an image",
  });
}

/** A traversal strip: {blob, values} where values are the frame shifts (header X-Shift-Values). */
export async function fetchTraversal(model, params, signal, priority) {
  const response = await request(`/models/${encodeURIComponent(model)}/traversal.png`, {
    query: {
      seed: params.seed, set: params.set, direction: params.direction, extent: params.extent, steps: params.steps,
      shift: shiftParams(params.shifts), window: params.window,
    },
    as: "response",
    signal,
    priority,
    what: `Loading the traversal of direction ${params.direction}`,
  });
  const header = response.headers.get("x-shift-values") || "";
  const values = header.split(/[,\s]+/).filter(Boolean).map(Number).filter(Number.isFinite);
  const blob = await response.blob();
  return { blob, values };
}

/** Render an explicit latent (POST render); resolves to a Blob. */
export function renderLatent(model, body, signal) {
  return request(`/models/${encodeURIComponent(model)}/render`, {
    method: "POST", json: body, as: "blob", signal, what: "Rendering the encoded slice",
  });
}

/**
 * Encode an uploaded slice: {latent, method, reconstruction_mae_hu, ...}; `images` also asks for the prepared slice
 * and its reconstruction in HU (`images: {size, original_hu, reconstruction_hu}`); `signal` cancels.
 */
export function encodeSlice(model, file, { images = false, signal } = {}) {
  const form = new FormData();
  form.append("file", file, file.name);
  return request(`/models/${encodeURIComponent(model)}/encode`, {
    method: "POST", form, query: images ? { images: "true" } : null, signal, what: `Encoding ${file.name}`,
  });
}

export const getMe = (token) => request("/annotators/me", { token, what: "Checking the annotator token" });

export const listLabels = (token, filters) =>
  request("/labels", { query: filters, token, what: "Loading your labels" });

/** Store a label; `idempotencyKey` (one per label, the same for its retries) makes a retry store it only once. */
export const postLabel = (token, label, idempotencyKey) =>
  request("/labels", {
    method: "POST", json: label, token, what: "Saving the label",
    headers: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {},
  });

/** A fresh Idempotency-Key: 128 random bits in hex (crypto.randomUUID needs a secure context; this does not). */
export function newIdempotencyKey() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
