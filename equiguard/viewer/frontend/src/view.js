// View transform (zoom, pan, fit, display flip), the image plane and the corner read-outs.
// Methods of the Viewer (viewer.js), installed on its prototype; `this` is the viewer.
import { renderPlane } from './image.js';
import { fmt } from './util.js';

export const viewMethods = {
  resize() {
    const w = Math.max(200, this.ui.root.clientWidth || 640);
    this.ui.wrap.style.height = `${this.height}px`;
    if (w === this.stage.width() && this.height === this.stage.height()) return;
    this.stage.size({ width: w, height: this.height });
    if (this.view && this.view.fitted) this.fit();
    this.applyView();
  },

  flip() { return !!(this.data && this.data.flip); },

  fit() {
    const [h, w] = this.data.image.shape;
    const aspect = this.data.image.aspect || 1;
    const W = this.stage.width(), H = this.stage.height();
    const s = Math.min(W / w, H / (h * aspect));
    const tx = this.flip() ? (W + s * w) / 2 : (W - s * w) / 2;
    this.view = { s, tx, ty: (H - s * aspect * h) / 2, fitted: true };
    if (this.session) this.session.view = this.view;
    this.applyView();
  },

  sx() { return this.flip() ? -this.view.s : this.view.s; },

  sy() { return this.view.s * (this.data.image.aspect || 1); },

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
  },

  toImage(px, py) { return [(px - this.view.tx) / this.sx(), (py - this.view.ty) / this.sy()]; },

  toScreen(x, y) { return [this.view.tx + this.sx() * x, this.view.ty + this.sy() * y]; },

  zoomAt(px, py, k) {
    const v = this.view;
    const s = Math.max(0.01, Math.min(200, v.s * k));
    const r = s / v.s;
    this.view = { s, tx: px - r * (px - v.tx), ty: py - r * (py - v.ty), fitted: false };
    this.session.view = this.view;
    this.applyView();
  },

  pan(dx, dy) {
    this.view = { ...this.view, tx: this.view.tx + dx, ty: this.view.ty + dy, fitted: false };
    this.session.view = this.view;
    this.applyView();
  },

  showSlice(k) {
    const n = this.data.image.n;
    k = Math.max(0, Math.min(n - 1, k));
    if (this.drawing) this.cancelDrawing();
    this.session.slice = k;
    this.stack.prefetch(k).catch((e) => this.status(`Could not load the image data (${e.message}).`, 'error'));
    this.renderImage();
    this.drawRois();
    this.hud();
  },

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
  },

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
  },

  preset(key) {
    const p = (this.data.image.presets || []).find((q) => q.key === key);
    if (!p) return;
    this.setWindow(p.center, p.width);
    this.status(`Window preset ${p.name}: C ${fmt(p.center)} / W ${fmt(p.width)}`, 'info');
  },

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
  },

  status(text, kind = 'info') {
    this.ui.status.textContent = text || '';
    this.ui.status.dataset.kind = kind;
  }
};
