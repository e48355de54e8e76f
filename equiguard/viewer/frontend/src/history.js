// Undo/redo of the viewer's local edits: each step stores the affected ROIs before and after
// (masks run-length encoded, so a brush stroke on a 2k x 2k image costs kilobytes, not megabytes).
import { rleDecode, rleEncode } from './masks.js';

const LIMIT = 100;

export function snapshot(roi) {
  if (!roi) return null;
  return { ...roi, geometry: roi.geometry ? JSON.parse(JSON.stringify(roi.geometry)) : null,
           mask: roi.mask ? rleEncode(roi.mask, 1, roi.mask.length) : null };
}

export function restore(rois, states) {
  for (const [cid, s] of states) {
    if (s === null) rois.delete(cid);
    else rois.set(cid, { ...s, geometry: s.geometry ? JSON.parse(JSON.stringify(s.geometry)) : null,
                         mask: s.mask ? rleDecode(s.mask) : null });
  }
}

export class History {
  constructor() { this.clear(); }

  clear() {
    this.done = [];
    this.undone = [];
    this.open = null;
  }

  begin(rois, cids) {
    this.open = new Map(cids.map((c) => [c, snapshot(rois.get(c))]));
  }

  end(rois) {
    if (!this.open) return;
    const after = new Map([...this.open.keys()].map((c) => [c, snapshot(rois.get(c))]));
    this.done.push({ before: this.open, after });
    if (this.done.length > LIMIT) this.done.shift();
    this.undone = [];
    this.open = null;
  }

  canUndo() { return this.done.length > 0; }
  canRedo() { return this.undone.length > 0; }

  undo(rois) {
    const step = this.done.pop();
    if (!step) return false;
    restore(rois, step.before);
    this.undone.push(step);
    return true;
  }

  redo(rois) {
    const step = this.undone.pop();
    if (!step) return false;
    restore(rois, step.after);
    this.done.push(step);
    return true;
  }
}
