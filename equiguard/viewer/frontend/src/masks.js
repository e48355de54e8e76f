// Binary masks in image pixels: RLE wire format, brush/eraser stamping and shape rasterisation.
// The rules are the server's (core.viewer): a pixel (i, j) is inside a shape when its centre
// (j + 0.5, i + 0.5) is; polygons use the non-zero winding rule with half-open spans.

export function rleEncode(data, h, w) {
  // Row-major runs, starting with a run of background pixels (see core/viewer/rle.py).
  const counts = [];
  let current = 0;
  let run = 0;
  const n = h * w;
  for (let i = 0; i < n; i++) {
    const v = data[i] ? 1 : 0;
    if (v !== current) {
      counts.push(run);
      run = 0;
      current = v;
    }
    run++;
  }
  counts.push(run);
  return { size: [h, w], counts };
}

export function rleDecode(rle) {
  const [h, w] = rle.size;
  const out = new Uint8Array(h * w);
  let pos = 0;
  let value = 0;
  for (const c of rle.counts) {
    if (value) out.fill(1, pos, pos + c);
    pos += c;
    value ^= 1;
  }
  return out;
}

export function maskArea(data) {
  let n = 0;
  for (let i = 0; i < data.length; i++) n += data[i];
  return n;
}

export function maskBBox(data, h, w) {
  // [x0, y0, x1, y1) of the inside pixels, or null when empty.
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let i = 0; i < h; i++) {
    const row = i * w;
    let first = -1, last = -1;
    for (let j = 0; j < w; j++) {
      if (data[row + j]) { if (first < 0) first = j; last = j; }
    }
    if (first >= 0) {
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
      if (i < y0) y0 = i;
      y1 = i;
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

// Stamp the capsule swept by a disc of radius r from a to b (image coordinates): every pixel
// whose centre lies within r of the segment gets `value`. Returns the touched box or null.
export function stampCapsule(data, h, w, ax, ay, bx, by, r, value) {
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r));
  const x1 = Math.min(w, Math.ceil(Math.max(ax, bx) + r) + 1);
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r));
  const y1 = Math.min(h, Math.ceil(Math.max(ay, by) + r) + 1);
  if (x0 >= x1 || y0 >= y1) return null;
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const r2 = r * r;
  for (let i = y0; i < y1; i++) {
    const py = i + 0.5;
    for (let j = x0; j < x1; j++) {
      const px = j + 0.5;
      let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const qx = ax + t * dx - px, qy = ay + t * dy - py;
      if (qx * qx + qy * qy <= r2) data[i * w + j] = value;
    }
  }
  return [x0, y0, x1, y1];
}

export function fillPolygon(points, h, w, data) {
  // points: [[x, y], ...] implicitly closed; non-zero rule; pixel centres; half-open spans.
  const n = points.length;
  if (n < 3) return data;
  let ymin = Infinity, ymax = -Infinity;
  for (const p of points) { if (p[1] < ymin) ymin = p[1]; if (p[1] > ymax) ymax = p[1]; }
  const r0 = Math.max(0, Math.ceil(ymin - 0.5));
  const r1 = Math.min(h, Math.ceil(ymax - 0.5));
  const xs = [], dirs = [];
  for (let i = r0; i < r1; i++) {
    const yc = i + 0.5;
    xs.length = 0; dirs.length = 0;
    for (let k = 0; k < n; k++) {
      const [xa, ya] = points[k];
      const [xb, yb] = points[(k + 1) % n];
      if (ya === yb) continue;
      const lo = Math.min(ya, yb), hi = Math.max(ya, yb);
      if (yc < lo || yc >= hi) continue;
      xs.push(xa + ((yc - ya) / (yb - ya)) * (xb - xa));
      dirs.push(yb > ya ? 1 : -1);
    }
    const order = xs.map((_, k) => k).sort((a, b) => xs[a] - xs[b]);
    let wind = 0;
    for (let k = 0; k < order.length - 1; k++) {
      wind += dirs[order[k]];
      if (wind === 0) continue;
      const a = Math.max(0, Math.ceil(xs[order[k]] - 0.5));
      const b = Math.min(w, Math.ceil(xs[order[k + 1]] - 0.5));
      if (b > a) data.fill(1, i * w + a, i * w + b);
    }
  }
  return data;
}

export function shapePoints(g) {
  if (g.type === 'rect') {
    return [[g.x, g.y], [g.x + g.width, g.y], [g.x + g.width, g.y + g.height], [g.x, g.y + g.height]];
  }
  return g.points;
}

export function shapeToMask(g, h, w) {
  const data = new Uint8Array(h * w);
  if (g.type === 'ellipse') {
    const i0 = Math.max(0, Math.floor(g.cy - g.ry)), i1 = Math.min(h, Math.ceil(g.cy + g.ry) + 1);
    const j0 = Math.max(0, Math.floor(g.cx - g.rx)), j1 = Math.min(w, Math.ceil(g.cx + g.rx) + 1);
    for (let i = i0; i < i1; i++) {
      const v = (i + 0.5 - g.cy) / g.ry;
      for (let j = j0; j < j1; j++) {
        const u = (j + 0.5 - g.cx) / g.rx;
        if (u * u + v * v < 1) data[i * w + j] = 1;
      }
    }
    return data;
  }
  return fillPolygon(shapePoints(g), h, w, data);
}
