// Editing: new shapes, brush and eraser strokes, moves and vertex drags, delete, accept, undo.
// Methods of the Viewer (viewer.js), installed on its prototype; `this` is the viewer.
import Konva from 'konva/lib/Core';
import * as M from './masks.js';
import { newCid } from './util.js';

export const editingMethods = {
  editStart(px, py, x, y) {
    const sel = this.selected();
    if (sel && sel.kind === 'shape') {
      const handle = this.handles(sel).find((hd) => {
        const [sx, sy] = this.toScreen(...hd.p);
        return Math.hypot(sx - px, sy - py) <= 7;
      });
      if (handle) {
        this.session.history.begin(this.session.rois, [sel.cid]);
        this.drawing = { kind: 'vertex', roi: sel, handle };
        return;
      }
    }
    const roi = this.hit(x, y);
    if (!roi) { this.select(null); return; }
    if (roi.cid !== this.session.selected) this.select(roi.cid);
    this.session.history.begin(this.session.rois, [roi.cid]);
    this.drawing = { kind: 'move', roi, start: [x, y], geometry: JSON.parse(JSON.stringify(roi.geometry)),
                     node: this.nodes.get(roi.cid), nodeStart: null, moved: false };
    if (this.drawing.node) this.drawing.nodeStart = this.drawing.node.position();
  },

  editMove(x, y) {
    const d = this.drawing;
    if (d.kind === 'vertex') {
      d.handle.move(x, y);
      d.roi.dirty = true;
      this.refreshNode(d.roi);
      return;
    }
    const dx = x - d.start[0], dy = y - d.start[1];
    d.moved = d.moved || Math.abs(dx) > 0 || Math.abs(dy) > 0;
    if (d.roi.kind === 'shape') {
      const g = d.roi.geometry, g0 = d.geometry;
      if (g.type === 'ellipse') { g.cx = g0.cx + dx; g.cy = g0.cy + dy; }
      else if (g.type === 'rect') { g.x = g0.x + dx; g.y = g0.y + dy; }
      else g.points = g0.points.map(([px, py]) => [px + dx, py + dy]);
      this.refreshNode(d.roi);
    } else if (d.node) {
      d.node.position({ x: d.nodeStart.x + Math.round(dx), y: d.nodeStart.y + Math.round(dy) });
      this.roiLayer.batchDraw();
    }
  },

  editEnd(x, y) {
    const d = this.drawing;
    this.drawing = null;
    if (d.kind === 'move' && d.roi.kind === 'mask') {
      const ox = Math.round(x - d.start[0]), oy = Math.round(y - d.start[1]);
      if (ox || oy) {
        const [h, w] = this.data.image.shape;
        const moved = new Uint8Array(h * w);
        for (let i = 0; i < h; i++) {
          const ti = i + oy;
          if (ti < 0 || ti >= h) continue;
          for (let j = 0; j < w; j++) {
            const tj = j + ox;
            if (d.roi.mask[i * w + j] && tj >= 0 && tj < w) moved[ti * w + tj] = 1;
          }
        }
        d.roi.mask = moved;
        d.roi.dirty = true;
      }
    } else if (d.kind === 'move' && d.moved) {
      d.roi.dirty = true;
    }
    this.session.history.end(this.session.rois);
    this.drawRois();
  },

  mutate(cids, fn) {
    this.session.history.begin(this.session.rois, cids);
    fn();
    this.session.history.end(this.session.rois);
    this.drawRois();
  },

  makeRoi(kind, geometry, mask) {
    const label = this.activeLabel();
    if (!label) {
      this.status('Type a label for the new ROI first.', 'error');
      return null;
    }
    return { cid: newCid(), id: null, version: null, label, colour: this.colourOf(label),
             slice: this.data.image.n > 1 ? this.session.slice : null, kind, geometry, mask,
             dirty: true, deleted: false, proposal: null, readOnly: false, name: null };
  },

  addRoi(kind, geometry, mask) {
    const roi = this.makeRoi(kind, geometry, mask);
    if (roi) this.mutate([roi.cid], () => { this.session.rois.set(roi.cid, roi); this.session.selected = roi.cid; });
    return roi;
  },

  deleteSelected() {
    const roi = this.selected();
    if (!roi) return;
    this.mutate([roi.cid], () => {
      if (roi.id === null && !roi.proposal) this.session.rois.delete(roi.cid);
      else { roi.deleted = true; roi.dirty = roi.id !== null; }
      this.session.selected = null;
    });
  },

  acceptSelected() {
    const roi = this.selected();
    if (!roi || !roi.proposal || roi.dirty) return;
    this.mutate([roi.cid], () => { roi.dirty = true; });
    this.status(`Proposal accepted as ${roi.label}; Save to store it.`, 'info');
  },

  undo() {
    if (this.session.history.undo(this.session.rois)) this.drawRois();
  },

  redo() {
    if (this.session.history.redo(this.session.rois)) this.drawRois();
  },

  toMask(roi) {
    if (roi.kind === 'mask') return;
    const [h, w] = this.data.image.shape;
    roi.mask = M.shapeToMask(roi.geometry, h, w);
    roi.kind = 'mask';
    roi.geometry = null;
  },

  // brush / eraser: one stroke = one undo step
  strokeStart(x, y) {
    const erase = this.tool === 'eraser';
    const [h, w] = this.data.image.shape;
    let targets;
    let created = null;
    const sel = this.selected();
    if (erase) {
      targets = sel ? [sel] : this.sliceRois();
    } else if (sel && sel.label === this.activeLabel()) {
      targets = [sel];
    } else {
      created = this.makeRoi('mask', null, new Uint8Array(h * w));
      if (!created) return;
      targets = [created];
    }
    this.session.history.begin(this.session.rois, targets.map((r) => r.cid));
    if (created) {
      this.session.rois.set(created.cid, created);
      this.session.selected = created.cid;
    }
    for (const r of targets) this.toMask(r);
    this.drawing = { kind: 'stroke', erase, targets, last: [x, y] };
    this.stamp(x, y, x, y);
  },

  stamp(ax, ay, bx, by) {
    const [h, w] = this.data.image.shape;
    for (const r of this.drawing.targets) {
      if (M.stampCapsule(r.mask, h, w, ax, ay, bx, by, this.radius, this.drawing.erase ? 0 : 1)) r.dirty = true;
    }
    this.drawRois();
  },

  strokeEnd() {
    const [h, w] = this.data.image.shape;
    for (const r of this.drawing.targets) {
      if (!M.maskBBox(r.mask, h, w)) {
        if (r.id === null && !r.proposal) this.session.rois.delete(r.cid);
        else { r.deleted = true; r.dirty = r.id !== null; }
      }
    }
    this.session.history.end(this.session.rois);
    this.drawing = null;
    this.drawRois();
  },

  cancelDrawing() {
    if (this.drawing && this.drawing.kind === 'stroke') this.strokeEnd();
    if (this.drawing && (this.drawing.kind === 'vertex' || this.drawing.kind === 'move')) {
      this.session.history.end(this.session.rois);
    }
    this.drawing = null;
    this.preview.visible(false);
    if (this.previewShape) { this.previewShape.destroy(); this.previewShape = null; }
    this.uiLayer.batchDraw();
  },

  showPreview() {
    const d = this.drawing;
    if (!d) return;
    if (d.kind === 'polygon' || d.kind === 'freehand') {
      const pts = d.points.concat(d.hover ? [d.hover] : []).flat();
      this.preview.setAttrs({ points: pts, closed: d.kind === 'freehand', visible: true });
    } else {
      if (this.previewShape) this.previewShape.destroy();
      const g = this.boxGeometry(d.kind, d.start, d.hover || d.start);
      this.previewShape = d.kind === 'rect'
        ? new Konva.Rect({ x: g.x, y: g.y, width: g.width, height: g.height, stroke: '#ffff00', strokeWidth: 1.5,
                           strokeScaleEnabled: false })
        : new Konva.Ellipse({ x: g.cx, y: g.cy, radiusX: g.rx, radiusY: g.ry, stroke: '#ffff00', strokeWidth: 1.5,
                              strokeScaleEnabled: false });
      this.uiGroup.add(this.previewShape);
    }
    this.uiLayer.batchDraw();
  },

  boxGeometry(kind, a, b) {
    const x0 = Math.min(a[0], b[0]), y0 = Math.min(a[1], b[1]);
    const ww = Math.abs(a[0] - b[0]), hh = Math.abs(a[1] - b[1]);
    if (kind === 'rect') return { format: 'viewer/1', type: 'rect', x: x0, y: y0, width: ww, height: hh };
    return { format: 'viewer/1', type: 'ellipse', cx: x0 + ww / 2, cy: y0 + hh / 2, rx: ww / 2, ry: hh / 2 };
  },

  closePolygon() {
    const d = this.drawing;
    if (!d || d.kind !== 'polygon') return;
    this.cancelDrawing();
    if (d.points.length >= 3) this.addRoi('shape', { format: 'viewer/1', type: 'polygon', points: d.points }, null);
  }
};
