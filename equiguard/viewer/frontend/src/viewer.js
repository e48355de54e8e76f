// The viewer: one Konva stage over a window/levelled image, ROIs in image pixel coordinates.
//
// Coordinates: an image point (x, y) (continuous; pixel (i, j) covers [j, j+1) x [i, i+1)) is shown
// at screen (tx + sx * x, ty + sy * y), sx = +-s (negative in the radiological flip), sy = s * aspect.
// Every ROI is kept and sent back in image coordinates; zoom, pan and flip are view transforms only.
// The methods live by concern in session.js, view.js, rois.js, editing.js and input.js.

import Konva from 'konva/lib/Core';
import 'konva/lib/shapes/Rect';
import 'konva/lib/shapes/Ellipse';
import 'konva/lib/shapes/Line';
import 'konva/lib/shapes/Circle';
import 'konva/lib/shapes/Image';
import { editingMethods } from './editing.js';
import { inputMethods } from './input.js';
import * as M from './masks.js';
import { roisMethods } from './rois.js';
import { sessionMethods } from './session.js';
import { buildUi } from './ui.js';
import { viewMethods } from './view.js';

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

Object.assign(Viewer.prototype, sessionMethods, viewMethods, roisMethods, editingMethods, inputMethods);
