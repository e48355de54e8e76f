// Modality values of a stack of planes, fetched once per chunk, and their window/level rendering.

const CACHE = new Map(); // url -> Promise<ArrayBuffer>; URLs are content-addressed, so entries never go stale
const CACHE_LIMIT = 24;  // chunks kept (per page); the oldest are forgotten first

function fetchChunk(url, encoding) {
  if (CACHE.has(url)) {
    const p = CACHE.get(url);
    CACHE.delete(url);
    CACHE.set(url, p);
    return p;
  }
  const p = fetch(url).then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    // chunks come gzip-wrapped (stored, see core/viewer/planes.py); the browser unwraps them natively
    return encoding === 'gzip' ? new Response(r.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer()
      : r.arrayBuffer();
  });
  p.catch(() => CACHE.delete(url));
  CACHE.set(url, p);
  while (CACHE.size > CACHE_LIMIT) CACHE.delete(CACHE.keys().next().value);
  return p;
}

const TYPES = { int16: Int16Array, uint16: Uint16Array, float32: Float32Array, rgb8: Uint8Array };

export class ImageStack {
  constructor(meta, urls) {
    this.meta = meta;
    this.urls = urls;
    const [h, w] = meta.display_shape;
    this.h = h;
    this.w = w;
    this.planeSize = h * w * (meta.dtype === 'rgb8' ? 3 : 1);
    this.chunks = new Map(); // chunk index -> typed array
    this.pending = new Map();
    this.onload = null;
  }

  chunkOf(k) { return Math.floor(k / this.meta.chunk); }

  plane(k) {
    const c = this.chunkOf(k);
    const arr = this.chunks.get(c);
    if (!arr) return null;
    const off = (k - c * this.meta.chunk) * this.planeSize;
    return arr.subarray(off, off + this.planeSize);
  }

  load(c) {
    if (c < 0 || c >= this.urls.length || this.chunks.has(c)) return Promise.resolve();
    if (this.pending.has(c)) return this.pending.get(c);
    const p = fetchChunk(this.urls[c], this.meta.encoding).then((buf) => {
      this.chunks.set(c, new TYPES[this.meta.dtype](buf));
      this.pending.delete(c);
      if (this.onload) this.onload(c);
    }, (err) => {
      this.pending.delete(c);
      throw err;
    });
    this.pending.set(c, p);
    return p;
  }

  // The chunk of slice k first, then its neighbours (so that scrolling never waits on the server).
  prefetch(k, radius = 3) {
    const c = this.chunkOf(k);
    const first = this.load(c);
    first.then(() => {
      for (let d = 1; d <= radius; d++) {
        this.load(c + d).catch(() => {});
        this.load(c - d).catch(() => {});
      }
    }, () => {});
    return first;
  }

  value(k, x, y) {
    // Modality value at image pixel (x, y) of full-resolution coordinates, or null.
    const p = this.plane(k);
    const f = this.meta.factor;
    const j = Math.floor(x / f), i = Math.floor(y / f);
    if (!p || i < 0 || j < 0 || i >= this.h || j >= this.w) return null;
    if (this.meta.dtype === 'rgb8') {
      const o = (i * this.w + j) * 3;
      return [p[o], p[o + 1], p[o + 2]];
    }
    return p[i * this.w + j];
  }
}

// Window/level one plane into `pixels` (a Uint32Array view of RGBA ImageData).
export function renderPlane(stack, plane, center, width, pixels) {
  const meta = stack.meta;
  const n = stack.h * stack.w;
  if (meta.dtype === 'rgb8') {
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      pixels[i] = 0xff000000 | (plane[o + 2] << 16) | (plane[o + 1] << 8) | plane[o];
    }
    return;
  }
  const lo = center - width / 2;
  const scale = 255 / Math.max(width, 1e-12);
  const invert = meta.monochrome1;
  if (meta.dtype === 'float32') {
    for (let i = 0; i < n; i++) {
      let g = (plane[i] - lo) * scale;
      g = g < 0 ? 0 : g > 255 ? 255 : g | 0;
      if (invert) g = 255 - g;
      pixels[i] = 0xff000000 | (g * 0x010101);
    }
    return;
  }
  // 16-bit integers: one lookup table over the data's range.
  const vmin = Math.floor(meta.range[0]);
  const size = Math.max(1, Math.floor(meta.range[1]) - vmin + 1);
  const lut = new Uint32Array(size);
  for (let v = 0; v < size; v++) {
    let g = (v + vmin - lo) * scale;
    g = g < 0 ? 0 : g > 255 ? 255 : g | 0;
    if (invert) g = 255 - g;
    lut[v] = 0xff000000 | (g * 0x010101);
  }
  for (let i = 0; i < n; i++) pixels[i] = lut[plane[i] - vmin];
}
