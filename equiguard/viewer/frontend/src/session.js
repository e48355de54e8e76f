// Data from Python, the answer to a save, and what Save sends.
// Methods of the Viewer (viewer.js), installed on its prototype; `this` is the viewer.
import * as M from './masks.js';
import { History } from './history.js';
import { ImageStack } from './image.js';
import { SAVE_TIMEOUT_MS } from './util.js';

export const sessionMethods = {
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
    // the page's label for new ROIs wins when it changes (or for a new image); otherwise the toolbar's stays
    if (!this.ui.labelInput.value || this.uid !== data.uid || this.pageLabel !== data.active_label) {
      this.ui.labelInput.value = data.active_label || 'lesion';
    }
    this.pageLabel = data.active_label;
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
  },

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
    this.status(ack.message, ack.level || (ack.ok ? 'ok' : 'error'));
  },

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
  },

  fromPayload(r, cid, extra) {
    const [h, w] = this.data.image.shape;
    const roi = { cid, id: r.id ?? null, version: r.version ?? null, label: r.label, colour: r.colour,
                  slice: r.slice ?? null, kind: r.kind, geometry: r.geometry || null, mask: null,
                  dirty: false, deleted: false, proposal: null, readOnly: false, name: r.name || null, ...extra };
    if (r.kind === 'mask') roi.mask = M.rleDecode(r.rle);
    if (roi.mask && roi.mask.length !== h * w) throw new Error('mask size does not match the image');
    return roi;
  },

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
};
