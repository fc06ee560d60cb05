// Runs the layout off the main thread so the page stays interactive while 2,000 assets lay out.
import { layoutGraph } from "./layout.js";

self.onmessage = (event) => {
  const { id, nodes, edges } = event.data;
  try {
    self.postMessage({ id, result: layoutGraph(nodes, edges) });
  } catch (err) {
    self.postMessage({ id, error: String((err && err.stack) || err) });
  }
};
