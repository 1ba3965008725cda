// Reading the server's NIfTI-1 volume in the browser: gunzip with DecompressionStream, parse the header (dims,
// pixdim, datatype, vox_offset, scl_slope/inter) and keep the voxels as HU. Layout (docs/volumes.md): array
// (column, row, slice), column fastest; RAS+ affine diag(-px, -px, -dz): columns run to the patient's left, rows
// posterior, slices inferior (slice 0 is the most cranial).

const NIFTI1_HEADER_SIZE = 348;
const DATATYPES = { 2: Uint8Array, 4: Int16Array, 8: Int32Array, 16: Float32Array, 256: Int8Array, 512: Uint16Array };

/** The bytes of a gzip Blob (or Response body), decompressed in the browser. */
export async function gunzip(blob) {
  const stream = blob.stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

/** The voxels as a typed array of the file's datatype (copied: aligned, and byte-swapped from big-endian). */
function readVoxels(buffer, little, datatype, offset, count) {
  const Type = DATATYPES[datatype];
  if (!Type) throw new Error(`NIfTI datatype ${datatype} is not supported (expected int16)`);
  const size = Type.BYTES_PER_ELEMENT;
  if (offset < 0 || offset + count * size > buffer.byteLength) throw new Error("the NIfTI file is shorter than its header says");
  const copy = buffer.slice(offset, offset + count * size);
  if (!little && size > 1) {
    const bytes = new Uint8Array(copy);
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  return new Type(copy);
}

/**
 * Parse a NIfTI-1 file: {nx, ny, nz (columns, rows, slices), px, py, pz (mm), hu (Int16Array, or Float32Array when
 * a scaling applies), at(slice, row, column) -> HU}.
 */
export function parseNifti(buffer) {
  const view = new DataView(buffer);
  const little = view.getInt32(0, true) === NIFTI1_HEADER_SIZE;
  if (!little && view.getInt32(0, false) !== NIFTI1_HEADER_SIZE) throw new Error("not a NIfTI-1 file");
  const dim = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, little));
  const pixdim = Array.from({ length: 8 }, (_, i) => view.getFloat32(76 + 4 * i, little));
  const datatype = view.getInt16(70, little);
  const offset = Math.round(view.getFloat32(108, little));
  const slope = view.getFloat32(112, little);
  const inter = view.getFloat32(116, little);
  if (dim[0] < 3) throw new Error(`the NIfTI file has ${dim[0]} dimensions, a volume needs 3`);
  const [nx, ny, nz] = [dim[1], dim[2], dim[3]];
  let hu = readVoxels(buffer, little, datatype, offset, nx * ny * nz);
  if (slope && (slope !== 1 || inter !== 0)) hu = Float32Array.from(hu, (v) => v * slope + inter);
  const [px, py, pz] = [Math.abs(pixdim[1]) || 1, Math.abs(pixdim[2]) || 1, Math.abs(pixdim[3]) || 1];
  return { nx, ny, nz, px, py, pz, hu, at: (s, r, c) => hu[c + nx * (r + ny * s)] };
}
