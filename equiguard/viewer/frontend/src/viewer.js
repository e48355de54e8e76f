// The viewer: one Konva stage over a window/levelled image, ROIs in image pixel coordinates.
//
// Coordinates: an image point (x, y) (continuous; pixel (i, j) covers [j, j+1) x [i, i+1)) is shown
// at screen (tx + sx * x, ty + sy * y), sx = +-s (negative in the radiological flip), sy = s * aspect.
// Every ROI is kept and sent back in image coordinates; zoom, pan and flip are view transforms only.

import Konva from 'konva/lib/Core';
import 'konva/lib/shapes/Rect';
import 'konva/lib/shapes/Ellipse';
import 'konva/lib/shapes/Line';
import 'konva/lib/shapes/Circle';
import 'konva/lib/shapes/Image';
import { ImageStack, renderPlane } from './image.js';
import * as M from './masks.js';
import { TOOLS, buildUi } from './ui.js';
import { History } from './history.js';

const ZOOM_PER_NOTCH = Math.pow(2, 1 / 4); // 8 wheel notches (deltaY 100 each) = 4x
const SAVE_TIMEOUT_MS = 30000;

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function rgba(hex, a) {
  const [r, g, b] = hexToRgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}

function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (Array.isArray(v)) return v.join(', ');
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}

let cidCounter = 0;
const newCid = () => `c${Date.now().toString(36)}${(cidCounter++).toString(36)}`;

export class Viewer {
  constructor(parent, setTriggerValue) {
    this.setTriggerValue = setTriggerValue;
    this.ui = buildUi(parent);
    this.sessions = new Map();
    this.tool = 'wl';
    this.radius = 8;
    this.opacity = 0.35;
    this.showRois = true;
    this.renderCount = 0;
    this.frameTimes = [];
    this.labelColours = {};
    this.stage = new Konva.Stage({ container: this.ui.stage, width: 640, height: 480 });
    this.imageLayer = new Konva.Layer({ listening: false });
    this.roiLayer = new Konva.Layer();
    this.uiLayer = new Konva.Layer({ listening: false });
    this.stage.add(this.imageLayer, this.roiLayer, this.uiLayer);
    this.imageGroup = new Konva.Group();
    this.roiGroup = new Konva.Group();
    this.uiGroup = new Konva.Group();
    this.imageLayer.add(this.imageGroup);
    this.roiLayer.add(this.roiGroup);
    this.uiLayer.add(this.uiGroup);
    this.imageCanvas = document.createElement('canvas');
    this.imageNode = new Konva.Image({ image: this.imageCanvas, x: 0, y: 0 });
    this.imageGroup.add(this.imageNode);
    this.cursor = new Konva.Circle({ stroke: '#ffffff', strokeWidth: 1, strokeScaleEnabled: false, visible: false,
                                     dash: [4, 3] });
    this.preview = new Konva.Line({ stroke: '#ffff00', strokeWidth: 1.5, strokeScaleEnabled: false, visible: false });
    this.previewShape = null;
    this.uiGroup.add(this.cursor, this.preview);
    this.view = null;
    this.drag = null;
    this.drawing = null;
    this.spaceDown = false;
    this.bindUi();
    this.bindPointer();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.ui.root);
  }

  // ------------------------------------------------------------------ data from Python
  update(data) {
    this.data = data;
    this.height = data.height || 640;
    this.labelColours = data.label_colours || {};
    const list = this.ui.labelList;
    list.replaceChildren(...Object.keys(this.labelColours).map((l) => {
      const o = document.createElement('option');
      o.value = l;
      return o;
    }));
    if (!this.ui.labelInput.value || this.uid !== data.uid) this.ui.labelInput.value = data.active_label || 'lesion';
    const fresh = this.uid !== data.uid;
    this.uid = data.uid;
    if (fresh) this.timing = { data: performance.now() };
    if (!this.sessions.has(data.uid)) {
      this.sessions.set(data.uid, { rois: new Map(), history: new History(), selected: null,
                                    slice: data.slice ?? Math.floor(data.image.n / 2), view: null,
                                    pendingSave: null, handledAcks: new Set() });
    }
    this.session = this.sessions.get(data.uid);
    if (!this.stack || this.stack.urls.join() !== data.urls.join()) {
      this.stack = new ImageStack(data.image, data.urls);
      this.stack.onload = (c) => {
        if (this.stack.chunkOf(this.session.slice) !== c) return;
        this.timing.values = this.timing.values || performance.now();
        this.renderImage();
      };
      this.imageCanvas.width = this.stack.w;
      this.imageCanvas.height = this.stack.h;
      this.imageData = this.imageCanvas.getContext('2d').createImageData(this.stack.w, this.stack.h);
      this.pixels = new Uint32Array(this.imageData.data.buffer);
      this.imageNode.width(data.image.shape[1]);
      this.imageNode.height(data.image.shape[0]);
    }
    if (fresh || !this.window) {
      this.window = { ...(this.session.window || data.image.window) };
    }
    this.session.slice = Math.max(0, Math.min(data.image.n - 1, this.session.slice));
    this.applyAck(data.ack);
    this.mergeServerRois(data.rois || [], data.proposals || []);
    this.ui.notice.textContent = data.image.notice || '';
    this.ui.notice.style.display = data.image.notice ? 'block' : 'none';
    const o = data.orientation;
    for (const side of ['left', 'right', 'top', 'bottom']) this.ui.orient[side].textContent = o ? o[side] : '';
    this.ui.tr.textContent = data.convention_text || '';
    this.resize();
    if (fresh || !this.session.view) this.fit(); else this.view = this.session.view;
    this.applyView();
    if (this.lastFlip !== undefined && this.lastFlip !== this.flip() && !fresh) this.fit();
    this.lastFlip = this.flip();
    this.setTool(this.tool);
    this.syncSwatch();
    this.showSlice(this.session.slice);
  }

  applyAck(ack) {
    const s = this.session;
    if (!ack || s.handledAcks.has(ack.save_id)) return;
    s.handledAcks.add(ack.save_id);
    if (s.pendingSave !== ack.save_id) return;
    s.pendingSave = null;
    clearTimeout(this.saveTimer);
    this.ui.save.disabled = false;
    for (const [cid, r] of Object.entries(ack.results || {})) {
      if (r.status === 'failed') continue;
      s.rois.delete(cid);
      if (s.selected === cid) s.selected = r.roi_id && r.status !== 'deleted' ? `s${r.roi_id}` : null;
    }
    if (ack.ok) s.history.clear();
    // the rerun that brought the answer may have taken the keyboard away: give it back to the viewer
    const active = document.activeElement;
    if (!active || active === document.body) this.ui.root.focus({ preventScroll: true });
    this.status(ack.message, ack.ok ? (ack.message.includes('conflict') || ack.message.includes('not deleted')
      ? 'warn' : 'ok') : 'error');
  }

  mergeServerRois(rois, proposals) {
    const s = this.session;
    const seen = new Set();
    const add = (r, cid, extra) => {
      seen.add(cid);
      const local = s.rois.get(cid);
      if (local && (local.dirty || local.deleted)) return;
      s.rois.set(cid, this.fromPayload(r, cid, extra));
    };
    rois.forEach((r) => add(r, `s${r.id}`, {}));
    proposals.forEach((r, i) => add(r, `p${r.name || i}`, { proposal: r.name || String(i) }));
    for (const [cid, roi] of s.rois) {
      if (seen.has(cid)) continue;
      if (roi.id === null && roi.dirty) continue; // a new, unsaved ROI
      if (roi.id !== null && roi.dirty) continue; // an unsaved edit of an ROI gone from the list
      s.rois.delete(cid);
    }
    this.overlays = (this.data.overlays || []).map((r, i) => this.fromPayload(r, `o${i}`, { readOnly: true }));
  }

  fromPayload(r, cid, extra) {
    const [h, w] = this.data.image.shape;
    const roi = { cid, id: r.id ?? null, version: r.version ?? null, label: r.label, colour: r.colour,
                  slice: r.slice ?? null, kind: r.kind, geometry: r.geometry || null, mask: null,
                  dirty: false, deleted: false, proposal: null, readOnly: false, name: r.name || null, ...extra };
    if (r.kind === 'mask') roi.mask = M.rleDecode(r.rle);
    if (roi.mask && roi.mask.length !== h * w) throw new Error('mask size does not match the image');
    return roi;
  }

  // ------------------------------------------------------------------ view transform
  resize() {
    const w = Math.max(200, this.ui.root.clientWidth || 640);
    this.ui.wrap.style.height = `${this.height}px`;
    if (w === this.stage.width() && this.height === this.stage.height()) return;
    this.stage.size({ width: w, height: this.height });
    if (this.view && this.view.fitted) this.fit();
    this.applyView();
  }

  flip() { return !!(this.data && this.data.flip); }

  fit() {
    const [h, w] = this.data.image.shape;
    const aspect = this.data.image.aspect || 1;
    const W = this.stage.width(), H = this.stage.height();
    const s = Math.min(W / w, H / (h * aspect));
    const tx = this.flip() ? (W + s * w) / 2 : (W - s * w) / 2;
    this.view = { s, tx, ty: (H - s * aspect * h) / 2, fitted: true };
    if (this.session) this.session.view = this.view;
    this.applyView();
  }

  sx() { return this.flip() ? -this.view.s : this.view.s; }
  sy() { return this.view.s * (this.data.image.aspect || 1); }

  applyView() {
    if (!this.view || !this.data) return;
    for (const g of [this.imageGroup, this.roiGroup, this.uiGroup]) {
      g.position({ x: this.view.tx, y: this.view.ty });
      g.scale({ x: this.sx(), y: this.sy() });
    }
    // show pixels sharply once they are big on screen
    this.imageLayer.imageSmoothingEnabled(this.view.s * this.data.image.factor < 3);
    this.updateAnchors();
    this.imageLayer.batchDraw();
    this.roiLayer.batchDraw();
    this.uiLayer.batchDraw();
    this.hud();
  }

  toImage(px, py) { return [(px - this.view.tx) / this.sx(), (py - this.view.ty) / this.sy()]; }
  toScreen(x, y) { return [this.view.tx + this.sx() * x, this.view.ty + this.sy() * y]; }

  zoomAt(px, py, k) {
    const v = this.view;
    const s = Math.max(0.01, Math.min(200, v.s * k));
    const r = s / v.s;
    this.view = { s, tx: px - r * (px - v.tx), ty: py - r * (py - v.ty), fitted: false };
    this.session.view = this.view;
    this.applyView();
  }

  pan(dx, dy) {
    this.view = { ...this.view, tx: this.view.tx + dx, ty: this.view.ty + dy, fitted: false };
    this.session.view = this.view;
    this.applyView();
  }

  // ------------------------------------------------------------------ image
  showSlice(k) {
    const n = this.data.image.n;
    k = Math.max(0, Math.min(n - 1, k));
    if (this.drawing) this.cancelDrawing();
    this.session.slice = k;
    this.stack.prefetch(k).catch((e) => this.status(`Could not load the image data (${e.message}).`, 'error'));
    this.renderImage();
    this.drawRois();
    this.hud();
  }

  setWindow(center, width) {
    this.window = { center, width: Math.max(width, 1e-6) };
    this.session.window = this.window;
    if (!this.wlFrame) {
      this.wlFrame = requestAnimationFrame(() => {
        this.wlFrame = null;
        this.renderImage();
      });
    }
    this.hud();
  }

  renderImage() {
    const plane = this.stack.plane(this.session.slice);
    this.ui.loading.style.display = plane ? 'none' : 'block';
    if (!plane) return;
    const t0 = performance.now();
    renderPlane(this.stack, plane, this.window.center, this.window.width, this.pixels);
    this.imageCanvas.getContext('2d').putImageData(this.imageData, 0, 0);
    this.imageLayer.draw();
    this.renderCount++;
    this.frameTimes.push({ t: t0, ms: performance.now() - t0, slice: this.session.slice });
    if (this.frameTimes.length > 600) this.frameTimes.splice(0, 300);
    this.renderedKey = `${this.uid}|${this.session.slice}`;
    this.timing.drawn = this.timing.drawn || performance.now();
    this.ui.root.dataset.renders = String(this.renderCount);
    this.ui.root.dataset.slice = String(this.session.slice);
  }

  preset(key) {
    const p = (this.data.image.presets || []).find((q) => q.key === key);
    if (!p) return;
    this.setWindow(p.center, p.width);
    this.status(`Window preset ${p.name}: C ${fmt(p.center)} / W ${fmt(p.width)}`, 'info');
  }

  hud(px, py) {
    if (!this.data || !this.view) return;
    const img = this.data.image;
    const k = this.session.slice;
    const where = img.axis ? `${img.axis} ${k + 1} / ${img.n}` : (img.n > 1 ? `frame ${k + 1} / ${img.n}` : '');
    this.ui.tl.textContent = `${where}${where ? ' · ' : ''}${img.shape[1]}×${img.shape[0]}`;
    const wl = img.rgb ? 'RGB' : `W ${fmt(Math.round(this.window.width * 100) / 100)} C ${fmt(Math.round(this.window.center * 100) / 100)}`;
    this.ui.br.textContent = `${wl} · zoom ${Math.round(this.view.s * 100)}%`;
    if (px !== undefined) {
      const [x, y] = this.toImage(px, py);
      const inside = x >= 0 && y >= 0 && x < img.shape[1] && y < img.shape[0];
      const v = inside ? this.stack.value(k, x, y) : null;
      this.ui.bl.textContent = inside ? `x ${Math.floor(x)} y ${Math.floor(y)} · ${fmt(v)} ${img.units || ''}` : '';
    }
    this.ui.radius.textContent = `r ${fmt(Math.round(this.radius * 10) / 10)} px`;
  }

  status(text, kind = 'info') {
    this.ui.status.textContent = text || '';
    this.ui.status.dataset.kind = kind;
  }

  // ------------------------------------------------------------------ ROIs
  sliceRois() {
    const k = this.data.image.n > 1 ? this.session.slice : null;
    return [...this.session.rois.values()].filter((r) => !r.deleted && (r.slice === k || (k === null)));
  }

  activeLabel() { return this.ui.labelInput.value.trim(); }

  colourOf(label) {
    if (this.labelColours[label]) return this.labelColours[label];
    const palette = this.data.palette || ['#ffa31a'];
    let h = 0;
    for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return palette[h % palette.length];
  }

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
  }

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
  }

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
  }

  selected() {
    const cid = this.session.selected;
    const roi = cid ? this.session.rois.get(cid) : null;
    return roi && !roi.deleted ? roi : null;
  }

  select(cid) {
    this.session.selected = cid;
    const roi = this.selected();
    if (roi) {
      this.ui.labelInput.value = roi.label;
      this.syncSwatch();
    }
    this.drawRois();
  }

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
  }

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
  }

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
  }

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
  }

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
  }

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
  }

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

  // ------------------------------------------------------------------ editing
  mutate(cids, fn) {
    this.session.history.begin(this.session.rois, cids);
    fn();
    this.session.history.end(this.session.rois);
    this.drawRois();
  }

  makeRoi(kind, geometry, mask) {
    const label = this.activeLabel();
    if (!label) {
      this.status('Type a label for the new ROI first.', 'error');
      return null;
    }
    return { cid: newCid(), id: null, version: null, label, colour: this.colourOf(label),
             slice: this.data.image.n > 1 ? this.session.slice : null, kind, geometry, mask,
             dirty: true, deleted: false, proposal: null, readOnly: false, name: null };
  }

  addRoi(kind, geometry, mask) {
    const roi = this.makeRoi(kind, geometry, mask);
    if (roi) this.mutate([roi.cid], () => { this.session.rois.set(roi.cid, roi); this.session.selected = roi.cid; });
    return roi;
  }

  deleteSelected() {
    const roi = this.selected();
    if (!roi) return;
    this.mutate([roi.cid], () => {
      if (roi.id === null && !roi.proposal) this.session.rois.delete(roi.cid);
      else { roi.deleted = true; roi.dirty = roi.id !== null; }
      this.session.selected = null;
    });
  }

  acceptSelected() {
    const roi = this.selected();
    if (!roi || !roi.proposal || roi.dirty) return;
    this.mutate([roi.cid], () => { roi.dirty = true; });
    this.status(`Proposal accepted as ${roi.label}; Save to store it.`, 'info');
  }

  undo() {
    if (this.session.history.undo(this.session.rois)) this.drawRois();
  }

  redo() {
    if (this.session.history.redo(this.session.rois)) this.drawRois();
  }

  toMask(roi) {
    if (roi.kind === 'mask') return;
    const [h, w] = this.data.image.shape;
    roi.mask = M.shapeToMask(roi.geometry, h, w);
    roi.kind = 'mask';
    roi.geometry = null;
  }

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
  }

  stamp(ax, ay, bx, by) {
    const [h, w] = this.data.image.shape;
    for (const r of this.drawing.targets) {
      if (M.stampCapsule(r.mask, h, w, ax, ay, bx, by, this.radius, this.drawing.erase ? 0 : 1)) r.dirty = true;
    }
    this.drawRois();
  }

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
  }

  cancelDrawing() {
    if (this.drawing && this.drawing.kind === 'stroke') this.strokeEnd();
    if (this.drawing && (this.drawing.kind === 'vertex' || this.drawing.kind === 'move')) {
      this.session.history.end(this.session.rois);
    }
    this.drawing = null;
    this.preview.visible(false);
    if (this.previewShape) { this.previewShape.destroy(); this.previewShape = null; }
    this.uiLayer.batchDraw();
  }

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
  }

  boxGeometry(kind, a, b) {
    const x0 = Math.min(a[0], b[0]), y0 = Math.min(a[1], b[1]);
    const ww = Math.abs(a[0] - b[0]), hh = Math.abs(a[1] - b[1]);
    if (kind === 'rect') return { format: 'viewer/1', type: 'rect', x: x0, y: y0, width: ww, height: hh };
    return { format: 'viewer/1', type: 'ellipse', cx: x0 + ww / 2, cy: y0 + hh / 2, rx: ww / 2, ry: hh / 2 };
  }

  closePolygon() {
    const d = this.drawing;
    if (!d || d.kind !== 'polygon') return;
    this.cancelDrawing();
    if (d.points.length >= 3) this.addRoi('shape', { format: 'viewer/1', type: 'polygon', points: d.points }, null);
  }

  // ------------------------------------------------------------------ save
  save() {
    const s = this.session;
    if (s.pendingSave) return;
    const [h, w] = this.data.image.shape;
    const edits = [...s.rois.values()].filter((r) => r.dirty).map((r) => ({
      cid: r.cid, id: r.id, version: r.version, slice: r.slice, label: r.label, kind: r.kind,
      geometry: r.kind === 'shape' ? r.geometry : null, rle: r.kind === 'mask' ? M.rleEncode(r.mask, h, w) : null,
      deleted: r.deleted, proposal: r.proposal }));
    if (!edits.length) {
      this.status('Nothing to save: no ROI was drawn, edited or deleted.', 'info');
      return;
    }
    const id = `save-${Date.now().toString(36)}`;
    s.pendingSave = id;
    this.ui.save.disabled = true;
    this.status(`Saving ${edits.length} ROI(s)…`, 'info');
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      if (s.pendingSave !== id) return;
      s.pendingSave = null;
      this.ui.save.disabled = false;
      this.status('The server did not confirm the save; your drawing is kept here. Try Save again.', 'error');
    }, SAVE_TIMEOUT_MS);
    this.setTriggerValue('save', { save_id: id, uid: this.uid, edits, label: this.activeLabel() });
  }

  // ------------------------------------------------------------------ input
  setTool(id) {
    this.tool = id;
    for (const [t, b] of Object.entries(this.ui.toolButtons)) b.classList.toggle('eg-on', t === id);
    this.ui.root.dataset.tool = id;
    if (this.drawing && this.drawing.kind !== 'stroke') this.cancelDrawing();
    this.cursor.visible(false);
    this.drawRois();
    this.uiLayer.batchDraw();
  }

  syncSwatch() {
    const label = this.activeLabel();
    this.ui.swatch.style.background = label ? this.colourOf(label) : 'transparent';
  }

  bindUi() {
    const ui = this.ui;
    for (const [t, b] of Object.entries(ui.toolButtons)) b.onclick = () => { this.setTool(t); ui.root.focus(); };
    ui.opacity.value = String(this.opacity);
    ui.opacity.oninput = () => { this.opacity = Number(ui.opacity.value); this.drawRois(); };
    ui.show.onchange = () => { this.showRois = ui.show.checked; this.drawRois(); };
    ui.labelInput.oninput = () => this.syncSwatch();
    ui.undo.onclick = () => this.undo();
    ui.redo.onclick = () => this.redo();
    ui.del.onclick = () => this.deleteSelected();
    ui.accept.onclick = () => this.acceptSelected();
    ui.save.onclick = () => this.save();
    ui.help.onclick = () => ui.helpBox.classList.toggle('eg-open');
    ui.root.addEventListener('keydown', (e) => this.onKey(e));
    ui.root.addEventListener('keyup', (e) => { if (e.code === 'Space') this.spaceDown = false; });
  }

  onKey(e) {
    if (e.target === this.ui.labelInput || e.target.tagName === 'INPUT') {
      if (e.key === 'Enter' || e.key === 'Escape') this.ui.root.focus();
      return;
    }
    const k = e.key;
    const ctrl = e.ctrlKey || e.metaKey;
    let handled = true;
    if (ctrl && (k === 'z' || k === 'Z')) { if (e.shiftKey) this.redo(); else this.undo(); }
    else if (ctrl && (k === 'y' || k === 'Y')) this.redo();
    else if (ctrl && (k === 's' || k === 'S')) this.save();
    else if (ctrl) handled = false;
    else if (k === ' ') this.spaceDown = true;
    else if (k === '?') this.ui.helpBox.classList.toggle('eg-open');
    else if (k === 'Escape') {
      if (this.ui.helpBox.classList.contains('eg-open')) this.ui.helpBox.classList.remove('eg-open');
      else if (this.drawing) this.cancelDrawing();
      else this.select(null);
    }
    else if (k === '[') { this.radius = Math.max(0.5, this.radius / 1.25); this.hud(); this.cursor.radius(this.radius); this.uiLayer.batchDraw(); }
    else if (k === ']') { this.radius = Math.min(500, this.radius * 1.25); this.hud(); this.cursor.radius(this.radius); this.uiLayer.batchDraw(); }
    else if (k >= '1' && k <= '9') this.preset(k);
    else if (k === '0' || k === 'Home') this.fit();
    else if (k === '+' || k === '=') this.zoomAt(this.stage.width() / 2, this.stage.height() / 2, ZOOM_PER_NOTCH);
    else if (k === '-') this.zoomAt(this.stage.width() / 2, this.stage.height() / 2, 1 / ZOOM_PER_NOTCH);
    else if (k === 'ArrowUp') this.showSlice(this.session.slice - 1);
    else if (k === 'ArrowDown') this.showSlice(this.session.slice + 1);
    else if (k === 'PageUp') this.showSlice(this.session.slice - 5);
    else if (k === 'PageDown') this.showSlice(this.session.slice + 5);
    else if (k === 'Delete' || k === 'Backspace') this.deleteSelected();
    else if (k === 'Enter') { if (this.drawing) this.closePolygon(); else this.acceptSelected(); }
    else if (k === 'a' || k === 'A') this.acceptSelected();
    else if (k === 'h' || k === 'H') { this.showRois = !this.showRois; this.ui.show.checked = this.showRois; this.drawRois(); }
    else {
      const t = TOOLS.find((q) => q.key === k.toLowerCase());
      if (t) this.setTool(t.id); else handled = false;
    }
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }

  pointer(e) {
    const r = this.ui.stage.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  bindPointer() {
    const el = this.ui.stage;
    el.addEventListener('contextmenu', (e) => e.preventDefault());
    el.addEventListener('wheel', (e) => {
      e.preventDefault();
      const [px, py] = this.pointer(e);
      const delta = e.deltaY || e.deltaX;
      if (e.ctrlKey || e.shiftKey || e.altKey || e.metaKey) {
        if (delta) this.showSlice(this.session.slice + Math.sign(delta));
      } else if (delta) {
        this.zoomAt(px, py, Math.pow(ZOOM_PER_NOTCH, -delta / 100));
      }
    }, { passive: false });
    el.addEventListener('pointerdown', (e) => this.onDown(e));
    window.addEventListener('pointermove', this.onMoveBound = (e) => this.onMove(e));
    window.addEventListener('pointerup', this.onUpBound = (e) => this.onUp(e));
    el.addEventListener('dblclick', () => { if (this.drawing && this.drawing.kind === 'polygon') this.closePolygon(); });
    el.addEventListener('pointerleave', () => { this.cursor.visible(false); this.uiLayer.batchDraw(); });
  }

  onDown(e) {
    this.ui.root.focus({ preventScroll: true });
    if (!this.view) return;
    const [px, py] = this.pointer(e);
    const [x, y] = this.toImage(px, py);
    if (e.button === 1 || (e.button === 0 && this.spaceDown)) {
      this.drag = { kind: 'pan', px, py };
      e.preventDefault();
      return;
    }
    if (e.button === 2 || (e.button === 0 && this.tool === 'wl')) {
      this.drag = { kind: 'wl', px, py, window: { ...this.window } };
      e.preventDefault();
      return;
    }
    if (e.button !== 0) return;
    const t = this.tool;
    if (t === 'brush' || t === 'eraser') this.strokeStart(x, y);
    else if (t === 'polygon') {
      const d = this.drawing;
      if (d && d.kind === 'polygon') {
        const [fx, fy] = this.toScreen(...d.points[0]);
        if (d.points.length >= 3 && Math.hypot(fx - px, fy - py) <= 8) { this.closePolygon(); return; }
        d.points.push([x, y]);
      } else {
        this.drawing = { kind: 'polygon', points: [[x, y]] };
      }
      this.showPreview();
    } else if (t === 'freehand') {
      this.drawing = { kind: 'freehand', points: [[x, y]], last: [px, py] };
      this.showPreview();
    } else if (t === 'rect' || t === 'ellipse') {
      this.drawing = { kind: t, start: [x, y], startScreen: [px, py] };
      this.showPreview();
    } else if (t === 'select') {
      this.editStart(px, py, x, y);
    }
  }

  onMove(e) {
    if (!this.view || !this.data) return;
    const [px, py] = this.pointer(e);
    const inStage = px >= 0 && py >= 0 && px < this.stage.width() && py < this.stage.height();
    const [x, y] = this.toImage(px, py);
    if (inStage) this.hud(px, py);
    const d = this.drag;
    if (d && d.kind === 'pan') {
      this.pan(px - d.px, py - d.py);
      d.px = px; d.py = py;
      return;
    }
    if (d && d.kind === 'wl') {
      const span = Math.max(this.data.image.range[1] - this.data.image.range[0], 1);
      const k = span / 1024;
      this.setWindow(d.window.center + (py - d.py) * k, Math.max(1e-6, d.window.width + (px - d.px) * k));
      return;
    }
    if (this.tool === 'brush' || this.tool === 'eraser') {
      this.cursor.setAttrs({ x, y, radius: this.radius, visible: inStage, scaleY: 1 });
      this.uiLayer.batchDraw();
    }
    const dr = this.drawing;
    if (!dr) return;
    if (dr.kind === 'vertex' || dr.kind === 'move') {
      this.editMove(x, y);
    } else if (dr.kind === 'stroke') {
      this.stamp(dr.last[0], dr.last[1], x, y);
      dr.last = [x, y];
    } else if (dr.kind === 'freehand') {
      if (Math.hypot(px - dr.last[0], py - dr.last[1]) >= 2) {
        dr.points.push([x, y]);
        dr.last = [px, py];
        this.showPreview();
      }
    } else {
      dr.hover = [x, y];
      this.showPreview();
    }
  }

  onUp(e) {
    if (this.drag) { this.drag = null; return; }
    const dr = this.drawing;
    if (!dr || !this.view) return;
    const [px, py] = this.pointer(e);
    const [x, y] = this.toImage(px, py);
    if (dr.kind === 'stroke') this.strokeEnd();
    else if (dr.kind === 'vertex' || dr.kind === 'move') this.editEnd(x, y);
    else if (dr.kind === 'freehand') {
      this.cancelDrawing();
      if (dr.points.length >= 3) this.addRoi('shape', { format: 'viewer/1', type: 'freehand', points: dr.points }, null);
    } else if (dr.kind === 'rect' || dr.kind === 'ellipse') {
      this.cancelDrawing();
      if (Math.abs(px - dr.startScreen[0]) >= 3 && Math.abs(py - dr.startScreen[1]) >= 3) {
        this.addRoi('shape', this.boxGeometry(dr.kind, dr.start, [x, y]), null);
      }
    }
  }

  // for tests and benchmarks
  debug() {
    return { uid: this.uid, pending: this.session.pendingSave, timing: { ...this.timing }, rendered: this.renderedKey === `${this.uid}|${this.session.slice}`,
             view: { ...this.view, sx: this.sx(), sy: this.sy() }, window: { ...this.window }, tool: this.tool,
             radius: this.radius, slice: this.session.slice, n: this.data.image.n, renders: this.renderCount,
             frameTimes: this.frameTimes.slice(), selected: this.session.selected,
             rois: [...this.session.rois.values()].map((r) => ({ cid: r.cid, id: r.id, label: r.label, kind: r.kind,
               slice: r.slice, dirty: r.dirty, deleted: r.deleted, proposal: r.proposal,
               area: r.mask ? M.maskArea(r.mask) : null, geometry: r.geometry })),
             loadedChunks: [...this.stack.chunks.keys()], stageRect: this.ui.stage.getBoundingClientRect().toJSON() };
  }

  destroy() {
    window.removeEventListener('pointermove', this.onMoveBound);
    window.removeEventListener('pointerup', this.onUpBound);
    this.resizeObserver.disconnect();
    this.stage.destroy();
  }
}
