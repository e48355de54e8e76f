// The viewer's DOM: toolbar, stage area with overlays (HUD, orientation letters, notices), help.

export const TOOLS = [
  { id: 'wl', key: 'w', label: 'W/L', title: 'Window/level: drag (right-drag works in every tool)' },
  { id: 'select', key: 'v', label: 'Edit', title: 'Select, move and edit vertices' },
  { id: 'brush', key: 'b', label: 'Brush', title: 'Paint into the label\'s mask' },
  { id: 'eraser', key: 'e', label: 'Eraser', title: 'Erase from the selected ROI (or any under the stroke)' },
  { id: 'polygon', key: 'p', label: 'Polygon', title: 'Click vertices; click the first one, double-click or Enter to close' },
  { id: 'freehand', key: 'f', label: 'Freehand', title: 'Drag an outline; it closes on release' },
  { id: 'rect', key: 'r', label: 'Rect', title: 'Drag a rectangle' },
  { id: 'ellipse', key: 'o', label: 'Ellipse', title: 'Drag the ellipse\'s bounding box' },
];

export const HOTKEYS = [
  ['W V B E P F R O', 'tools: window/level, edit, brush, eraser, polygon, freehand, rectangle, ellipse'],
  ['[  ]', 'brush / eraser radius smaller / larger'],
  ['1 … 9', 'window presets (brain, subdural, stroke, lung, mediastinum, soft tissue, bone, auto, liver)'],
  ['right-drag', 'window/level (horizontal: width, vertical: centre)'],
  ['wheel', 'zoom about the cursor'],
  ['middle-drag, Space+drag', 'pan'],
  ['0 or Home', 'fit the image (reset zoom and pan)'],
  ['+  -', 'zoom in / out'],
  ['Ctrl/Shift/Alt+wheel, ↑ ↓', 'previous / next slice'],
  ['Page Up / Page Down', '5 slices back / forward'],
  ['Ctrl+Z  Ctrl+Y', 'undo / redo (in the viewer, before saving)'],
  ['Delete / Backspace', 'delete the selected ROI'],
  ['Enter / A', 'close the polygon being drawn; accept the selected proposal'],
  ['Esc', 'cancel the current drawing, deselect, close this help'],
  ['H', 'show / hide ROIs'],
  ['Ctrl+S', 'save'],
  ['?', 'this help'],
];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function buildUi(root) {
  const ui = {};
  ui.root = el('div', 'eg-viewer');
  ui.root.tabIndex = 0;
  const bar = el('div', 'eg-toolbar');
  ui.toolButtons = {};
  for (const t of TOOLS) {
    const b = el('button', 'eg-tool', t.label);
    b.title = `${t.title} (${t.key.toUpperCase()})`;
    b.dataset.tool = t.id;
    const k = el('span', 'eg-key', t.key.toUpperCase());
    b.appendChild(k);
    ui.toolButtons[t.id] = b;
    bar.appendChild(b);
  }
  bar.appendChild(el('span', 'eg-sep'));
  ui.labelInput = el('input', 'eg-label');
  ui.labelInput.placeholder = 'label';
  ui.labelInput.title = 'Label of new ROIs (each label has its own colour)';
  ui.labelInput.setAttribute('list', 'eg-labels');
  ui.labelList = el('datalist');
  ui.labelList.id = 'eg-labels';
  ui.swatch = el('span', 'eg-swatch');
  bar.append(ui.swatch, ui.labelInput, ui.labelList);
  ui.radius = el('span', 'eg-radius');
  ui.radius.title = 'Brush / eraser radius in image pixels ([ and ])';
  bar.appendChild(ui.radius);
  const op = el('label', 'eg-opacity', 'opacity ');
  ui.opacity = el('input');
  ui.opacity.type = 'range';
  ui.opacity.min = '0';
  ui.opacity.max = '1';
  ui.opacity.step = '0.05';
  ui.opacity.title = 'ROI fill opacity';
  op.appendChild(ui.opacity);
  bar.appendChild(op);
  const sh = el('label', 'eg-show');
  ui.show = el('input');
  ui.show.type = 'checkbox';
  ui.show.checked = true;
  sh.append(ui.show, document.createTextNode(' ROIs (H)'));
  bar.appendChild(sh);
  bar.appendChild(el('span', 'eg-sep'));
  const actions = [['undo', 'Undo', 'Undo (Ctrl+Z)'], ['redo', 'Redo', 'Redo (Ctrl+Y)'],
    ['del', 'Delete', 'Delete the selected ROI (Delete)'], ['accept', 'Accept', 'Accept the selected proposed ROI (A)'],
    ['save', 'Save', 'Save all changes to the annotation store (Ctrl+S)'], ['help', '?', 'Hotkeys (?)']];
  for (const [name, text, title] of actions) {
    ui[name] = el('button', name === 'save' ? 'eg-save' : 'eg-act', text);
    ui[name].title = title;
    bar.appendChild(ui[name]);
  }
  ui.root.appendChild(bar);

  ui.wrap = el('div', 'eg-stage-wrap');
  ui.stage = el('div', 'eg-stage');
  ui.wrap.appendChild(ui.stage);
  for (const pos of ['tl', 'tr', 'bl', 'br']) {
    ui[pos] = el('div', `eg-hud eg-${pos}`);
    ui.wrap.appendChild(ui[pos]);
  }
  ui.orient = {};
  for (const side of ['left', 'right', 'top', 'bottom']) {
    ui.orient[side] = el('div', `eg-orient eg-o-${side}`);
    ui.wrap.appendChild(ui.orient[side]);
  }
  ui.notice = el('div', 'eg-notice');
  ui.loading = el('div', 'eg-loading', 'loading…');
  ui.helpBox = el('div', 'eg-help');
  const table = el('table');
  for (const [keys, what] of HOTKEYS) {
    const tr = el('tr');
    tr.append(el('td', 'eg-k', keys), el('td', '', what));
    table.appendChild(tr);
  }
  ui.helpBox.append(el('div', 'eg-help-title', 'Hotkeys'), table);
  ui.wrap.append(ui.notice, ui.loading, ui.helpBox);
  ui.root.appendChild(ui.wrap);
  ui.status = el('div', 'eg-status');
  ui.root.appendChild(ui.status);
  root.appendChild(ui.root);
  return ui;
}
