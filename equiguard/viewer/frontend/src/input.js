// Keyboard, mouse and toolbar: which action each input starts.
// Methods of the Viewer (viewer.js), installed on its prototype; `this` is the viewer.
import { TOOLS } from './ui.js';
import { ZOOM_PER_NOTCH } from './util.js';

export const inputMethods = {
  setTool(id) {
    this.tool = id;
    for (const [t, b] of Object.entries(this.ui.toolButtons)) b.classList.toggle('eg-on', t === id);
    this.ui.root.dataset.tool = id;
    if (this.drawing && this.drawing.kind !== 'stroke') this.cancelDrawing();
    this.cursor.visible(false);
    this.drawRois();
    this.uiLayer.batchDraw();
  },

  syncSwatch() {
    const label = this.activeLabel();
    this.ui.swatch.style.background = label ? this.colourOf(label) : 'transparent';
  },

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
  },

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
  },

  pointer(e) {
    const r = this.ui.stage.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  },

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
  },

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
  },

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
  },

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
};
