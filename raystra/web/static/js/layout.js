// Layered layout of the asset graph with dagre, grouped by group_name.
//
// dagre's compound-graph mode would draw the groups for us but takes ~35 s for 2,000 assets
// on a laptop core, so the layout is two-level instead (~1 s): each group is laid out on its
// own, then the groups, as boxes of that size, are laid out by the edges between them.
import dagre from "../vendor/dagre.esm.js";

export const NODE_H = 46;
const PAD = 18;
const HEAD = 30;

export function nodeWidth(key) {
  const label = key.split("/").pop();
  return Math.max(150, Math.min(280, 40 + label.length * 7.5));
}

function layered(options) {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 56, edgesep: 8, ...options });
  g.setDefaultEdgeLabel(() => ({}));
  return g;
}

/**
 * Lay out `nodes` ([{key, group}]) and `edges` ([[from, to]]).
 * Returns {nodes: {key: {x, y, w, h}}, groups: [{name, x, y, w, h}], edges: [{from, to, points}], ms}.
 * Node and group coordinates are top-left corners; intra-group edges carry dagre's bend points.
 */
export function layoutGraph(nodes, edges) {
  const t0 = performance.now();
  const groupOf = new Map(nodes.map((n) => [n.key, n.group || "default"]));
  const members = new Map();
  for (const n of nodes) {
    const g = groupOf.get(n.key);
    if (!members.has(g)) members.set(g, []);
    members.get(g).push(n.key);
  }
  const inner = new Map();
  for (const [name, keys] of members) {
    const g = layered({});
    for (const k of keys) g.setNode(k, { width: nodeWidth(k), height: NODE_H });
    for (const [a, b] of edges) {
      if (groupOf.get(a) === name && groupOf.get(b) === name) g.setEdge(a, b);
    }
    dagre.layout(g);
    inner.set(name, g);
  }
  const outer = layered({ nodesep: 40, ranksep: 90 });
  for (const [name, g] of inner) {
    const { width, height } = g.graph();
    outer.setNode(name, { width: width + 2 * PAD, height: height + 2 * PAD + HEAD });
  }
  for (const [a, b] of edges) {
    const ga = groupOf.get(a);
    const gb = groupOf.get(b);
    if (ga !== undefined && gb !== undefined && ga !== gb) outer.setEdge(ga, gb);
  }
  dagre.layout(outer);

  const outNodes = {};
  const outGroups = [];
  const outEdges = [];
  for (const [name, g] of inner) {
    const box = outer.node(name);
    const gx = box.x - box.width / 2;
    const gy = box.y - box.height / 2;
    outGroups.push({ name, x: gx, y: gy, w: box.width, h: box.height, count: members.get(name).length });
    const ox = gx + PAD;
    const oy = gy + PAD + HEAD;
    for (const k of g.nodes()) {
      const n = g.node(k);
      outNodes[k] = { x: ox + n.x - n.width / 2, y: oy + n.y - n.height / 2, w: n.width, h: n.height };
    }
    for (const e of g.edges()) {
      const pts = g.edge(e).points.map((p) => [ox + p.x, oy + p.y]);
      outEdges.push({ from: e.v, to: e.w, points: pts });
    }
  }
  for (const [a, b] of edges) {
    if (groupOf.get(a) !== groupOf.get(b) && outNodes[a] && outNodes[b]) {
      outEdges.push({ from: a, to: b, points: null });
    }
  }
  return { nodes: outNodes, groups: outGroups, edges: outEdges, ms: performance.now() - t0 };
}
