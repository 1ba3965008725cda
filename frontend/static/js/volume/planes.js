// The three reformats of a volume at a crosshair: which voxels a plane shows, drawing it through an HU window at
// square millimetres (the slice axis stretched by its spacing), the crosshair, and canvas point -> voxel.

export const PLANES = ["axial", "coronal", "sagittal"];

// Screen edges of each plane, from the NIfTI affine diag(-px, -px, -dz) (docs/volumes.md): columns run to the
// patient's left (shown left to right: radiological convention), rows posterior, slices inferior (slice 0 on top).
export const ORIENTATION = Object.freeze({
  axial: { left: "R", right: "L", top: "A", bottom: "P" },
  coronal: { left: "R", right: "L", top: "S", bottom: "I" },
  sagittal: { left: "A", right: "P", top: "S", bottom: "I" },
});

/** A plane's voxels across (nu) and down (nv), and their size in mm (du, dv). */
export function planeGeometry(vol, plane) {
  if (plane === "axial") return { nu: vol.nx, nv: vol.ny, du: vol.px, dv: vol.py };
  if (plane === "coronal") return { nu: vol.nx, nv: vol.nz, du: vol.px, dv: vol.pz };
  return { nu: vol.ny, nv: vol.nz, du: vol.py, dv: vol.pz };
}

/** The voxel {s, r, c} of a plane's pixel (u, v), the plane cutting the volume at `cursor`. */
export function voxelAt(plane, cursor, u, v) {
  if (plane === "axial") return { s: cursor.s, r: v, c: u };
  if (plane === "coronal") return { s: v, r: cursor.r, c: u };
  return { s: v, r: u, c: cursor.c };
}

/** Where the cursor lies in a plane: [u, v]. */
function cursorUV(plane, cursor) {
  if (plane === "axial") return [cursor.c, cursor.r];
  if (plane === "coronal") return [cursor.c, cursor.s];
  return [cursor.r, cursor.s];
}

/** Display pixels per mm that fit the axial plane into `size` CSS px (all planes of a view share it). */
export function mmScale(vol, size) {
  return size / Math.max(vol.nx * vol.px, vol.ny * vol.py);
}

const scratch = document.createElement("canvas");

/** Draw `plane` of `vol` at `cursor` through the window [W, L] (HU) on `canvas`, `scale` px per mm, crosshair on top. */
export function drawPlane(canvas, vol, plane, cursor, [width, level], scale) {
  const { nu, nv, du, dv } = planeGeometry(vol, plane);
  const image = new ImageData(nu, nv);
  const low = level - width / 2;
  for (let v = 0; v < nv; v += 1) {
    for (let u = 0; u < nu; u += 1) {
      const { s, r, c } = voxelAt(plane, cursor, u, v);
      const grey = Math.max(0, Math.min(255, Math.round(((vol.at(s, r, c) - low) / width) * 255)));
      const i = 4 * (v * nu + u);
      image.data[i] = image.data[i + 1] = image.data[i + 2] = grey;
      image.data[i + 3] = 255;
    }
  }
  scratch.width = nu;
  scratch.height = nv;
  scratch.getContext("2d").putImageData(image, 0, 0);
  canvas.width = Math.max(1, Math.round(nu * du * scale));
  canvas.height = Math.max(1, Math.round(nv * dv * scale));
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
  drawCrosshair(ctx, canvas, plane, cursor, nu, nv);
}

function drawCrosshair(ctx, canvas, plane, cursor, nu, nv) {
  const [u, v] = cursorUV(plane, cursor);
  const x = Math.round(((u + 0.5) / nu) * canvas.width) + 0.5;
  const y = Math.round(((v + 0.5) / nv) * canvas.height) + 0.5;
  ctx.strokeStyle = "rgba(255, 196, 0, 0.75)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x, 0);
  ctx.lineTo(x, canvas.height);
  ctx.moveTo(0, y);
  ctx.lineTo(canvas.width, y);
  ctx.stroke();
}

/** The voxel under a pointer event on a plane's canvas (clamped to the volume). */
export function voxelOfEvent(event, canvas, vol, plane, cursor) {
  const { nu, nv } = planeGeometry(vol, plane);
  const box = canvas.getBoundingClientRect();
  const clamp = (value, n) => Math.max(0, Math.min(n - 1, Math.floor(value * n)));
  const u = clamp((event.clientX - box.left) / box.width, nu);
  const v = clamp((event.clientY - box.top) / box.height, nv);
  return voxelAt(plane, cursor, u, v);
}
