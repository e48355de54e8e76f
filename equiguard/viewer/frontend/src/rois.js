// Drawing the ROIs of the current slice: Konva nodes, mask canvases, vertex handles, hit-testing.
// Methods of the Viewer (viewer.js), installed on its prototype; `this` is the viewer.
import Konva from 'konva/lib/Core';
import * as M from './masks.js';
import { hexToRgb, rgba } from './util.js';

export const roisMethods = {
  sliceRois() {
    const k = this.data.image.n > 1 ? this.session.slice : null;
    return [...this.session.rois.values()].filter((r) => !r.deleted && (r.slice === k || (k === null)));
  },

  activeLabel() { return this.ui.labelInput.value.trim(); },

  colourOf(label) {
    if (this.labelColours[label]) return this.labelColours[label];
    const palette = this.data.palette || ['#ffa31a'];
    let h = 0;
    for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return palette[h % palette.length];
  },

  drawRois() {
    this.roiGroup.destroyChildren();
    this.nodes = new Map();
    if (this.showRois) {
      const k = this.data.image.n > 1 ? this.session.slice : null;
      for (const roi of (this.overlays || []).filter((r) => r.slice === k || k === null)) this.addNode(roi);
      for (const roi of this.sliceRois()) this.addNode(roi);
    }
    this.updateAnchors();
    this.roiLayer.batchDraw();
    const sel = this.selected();
    this.ui.accept.disabled = !(sel && sel.proposal && !sel.dirty);
    this.ui.del.disabled = !sel;
    this.ui.undo.disabled = !this.session.history.canUndo();
    this.ui.redo.disabled = !this.session.history.canRedo();
    const dirty = [...this.session.rois.values()].filter((r) => r.dirty).length;
    this.ui.save.textContent = dirty ? `Save (${dirty})` : 'Save';
    this.ui.root.dataset.dirty = String(dirty);
  },

  addNode(roi) {
    const selected = roi.cid === this.session.selected;
    const dashed = roi.readOnly || (roi.proposal && !roi.dirty);
    const common = { stroke: roi.colour, strokeWidth: selected ? 3 : 1.5, strokeScaleEnabled: false,
                     fill: rgba(roi.colour, this.opacity), dash: dashed ? [6, 4] : undefined,
                     listening: !roi.readOnly, name: roi.cid };
    let node;
    if (roi.kind === 'mask') {
      node = this.maskNode(roi);
    } else if (roi.geometry.type === 'ellipse') {
      const g = roi.geometry;
      node = new Konva.Ellipse({ ...common, x: g.cx, y: g.cy, radiusX: g.rx, radiusY: g.ry });
    } else if (roi.geometry.type === 'rect') {
      const g = roi.geometry;
      node = new Konva.Rect({ ...common, x: g.x, y: g.y, width: g.width, height: g.height });
    } else {
      node = new Konva.Line({ ...common, points: roi.geometry.points.flat(), closed: true });
    }
    if (!node) return;
    node.setAttr('cid', roi.cid);
    this.nodes.set(roi.cid, node);
    this.roiGroup.add(node);
  },

  maskNode(roi) {
    const [h, w] = this.data.image.shape;
    const box = M.maskBBox(roi.mask, h, w);
    if (!box) return null;
    const [x0, y0, x1, y1] = box;
    const canvas = document.createElement('canvas');
    canvas.width = x1 - x0;
    canvas.height = y1 - y0;
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(x1 - x0, y1 - y0);
    const px = new Uint32Array(img.data.buffer);
    const [r, g, b] = hexToRgb(roi.colour);
    const on = 0xff000000 | (b << 16) | (g << 8) | r;
    for (let i = y0; i < y1; i++) {
      const src = i * w, dst = (i - y0) * (x1 - x0);
      for (let j = x0; j < x1; j++) if (roi.mask[src + j]) px[dst + j - x0] = on;
    }
    ctx.putImageData(img, 0, 0);
    const selected = roi.cid === this.session.selected;
    const dashed = roi.readOnly || (roi.proposal && !roi.dirty);
    return new Konva.Image({ image: canvas, x: x0, y: y0, width: x1 - x0, height: y1 - y0,
                             opacity: Math.max(this.opacity, 0.05) * (dashed ? 0.6 : 1) + (selected ? 0.15 : 0),
                             name: roi.cid, listening: !roi.readOnly });
  },

  selected() {
    const cid = this.session.selected;
    const roi = cid ? this.session.rois.get(cid) : null;
    return roi && !roi.deleted ? roi : null;
  },

  select(cid) {
    this.session.selected = cid;
    const roi = this.selected();
    if (roi) {
      this.ui.labelInput.value = roi.label;
      this.syncSwatch();
    }
    this.drawRois();
  },

  // Vertex handles of a shape: image point + how dragging it changes the geometry.
  handles(roi) {
    const g = roi.geometry;
    if (g.type === 'rect') {
      const corners = [[g.x, g.y], [g.x + g.width, g.y], [g.x + g.width, g.y + g.height], [g.x, g.y + g.height]];
      return corners.map((p, k) => ({ p, move: (x, y) => {
        const opp = corners[(k + 2) % 4];
        g.x = Math.min(x, opp[0]); g.y = Math.min(y, opp[1]);
        g.width = Math.max(Math.abs(x - opp[0]), 0.5); g.height = Math.max(Math.abs(y - opp[1]), 0.5);
      } }));
    }
    if (g.type === 'ellipse') {
      const rx = (x) => { g.rx = Math.max(Math.abs(x - g.cx), 0.5); };
      const ry = (x, y) => { g.ry = Math.max(Math.abs(y - g.cy), 0.5); };
      return [{ p: [g.cx + g.rx, g.cy], move: rx }, { p: [g.cx - g.rx, g.cy], move: rx },
              { p: [g.cx, g.cy + g.ry], move: ry }, { p: [g.cx, g.cy - g.ry], move: ry }];
    }
    return g.points.map((p, k) => ({ p, move: (x, y) => { g.points[k] = [x, y]; } }));
  },

  // The topmost editable ROI of this slice under image point (x, y), or null.
  hit(x, y) {
    const [h, w] = this.data.image.shape;
    const rois = this.sliceRois().filter((r) => !r.readOnly);
    for (let k = rois.length - 1; k >= 0; k--) {
      const r = rois[k];
      if (r.kind === 'mask') {
        const i = Math.floor(y), j = Math.floor(x);
        if (i >= 0 && j >= 0 && i < h && j < w && r.mask[i * w + j]) return r;
        continue;
      }
      const g = r.geometry;
      if (g.type === 'ellipse') {
        if (((x - g.cx) / g.rx) ** 2 + ((y - g.cy) / g.ry) ** 2 <= 1) return r;
        continue;
      }
      const pts = M.shapePoints(g);
      let inside = false;
      for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
        const [xi, yi] = pts[i], [xj, yj] = pts[j];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
      if (inside) return r;
    }
    return null;
  },

  updateAnchors() {
    if (this.anchors) this.anchors.forEach((a) => a.destroy());
    this.anchors = [];
    const roi = this.selected();
    if (!roi || roi.kind !== 'shape' || this.tool !== 'select' || !this.view || !this.showRois) return;
    const r = 5 / this.view.s;
    const aspect = this.data.image.aspect || 1;
    for (const hnd of this.handles(roi)) {
      const a = new Konva.Circle({ x: hnd.p[0], y: hnd.p[1], radius: r, scaleY: 1 / aspect, fill: '#ffffff',
                                   stroke: roi.colour, strokeWidth: 1.5, strokeScaleEnabled: false,
                                   listening: false, name: 'anchor' });
      this.anchors.push(a);
      this.roiGroup.add(a);
    }
  },

  refreshNode(roi) {
    const node = this.nodes.get(roi.cid);
    const g = roi.geometry;
    if (!node) return;
    if (g.type === 'ellipse') node.setAttrs({ x: g.cx, y: g.cy, radiusX: g.rx, radiusY: g.ry });
    else if (g.type === 'rect') node.setAttrs({ x: g.x, y: g.y, width: g.width, height: g.height });
    else node.points(g.points.flat());
    this.updateAnchors();
    this.roiLayer.batchDraw();
  }
};
