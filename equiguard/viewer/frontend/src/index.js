// Streamlit Custom Components v2 entry: one Viewer per mounted component, kept across reruns.
import { Viewer } from './viewer.js';

const viewers = new WeakMap();
window.__equiguardViewers = window.__equiguardViewers || {};

export default function mount(component) {
  const { data, parentElement, setTriggerValue } = component;
  let viewer = viewers.get(parentElement);
  if (!viewer) {
    viewer = new Viewer(parentElement, setTriggerValue);
    viewers.set(parentElement, viewer);
  }
  viewer.setTriggerValue = setTriggerValue;
  const name = (data && data.name) || 'viewer';
  window.__equiguardViewers[name] = viewer;
  try {
    viewer.update(data);
  } catch (err) {
    viewer.status(`The viewer could not show this image: ${err.message}`, 'error');
    console.error(err);
  }
  return () => {
    viewers.delete(parentElement);
    if (window.__equiguardViewers[name] === viewer) delete window.__equiguardViewers[name];
    viewer.destroy();
  };
}
