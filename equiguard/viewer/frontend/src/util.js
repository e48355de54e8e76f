// Small shared helpers and constants of the viewer.

export const ZOOM_PER_NOTCH = Math.pow(2, 1 / 4); // 8 wheel notches (deltaY 100 each) = 4x
export const SAVE_TIMEOUT_MS = 30000;

export function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export function rgba(hex, a) {
  const [r, g, b] = hexToRgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}

export function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (Array.isArray(v)) return v.join(', ');
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}

let cidCounter = 0;
export const newCid = () => `c${Date.now().toString(36)}${(cidCounter++).toString(36)}`;
