// The SVG asset graph: drawn once per layout, then panned and zoomed by one transform.
//
// Responsiveness with thousands of assets comes from levels of detail: zoomed out, where labels
// would be unreadable anyway, the whole graph is painted on a canvas from prebuilt Path2D
// batches (one per state), a few milliseconds a frame for 2,000 assets; zoomed in, the SVG shows
// readable, clickable nodes, and only those in the viewport are in the DOM.
// All edges are one <path>, not one element each.

const SVG = "http://www.w3.org/2000/svg";
const LABELS_MIN_SCALE = 0.45;
const FAR_COLORS = { fresh: "#4ade80", stale: "#fbbf24", missing: "#cbd5e1", failed: "#f87171", running: "#60a5fa" };

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function edgePath(e, nodes) {
  const a = nodes[e.from];
  const b = nodes[e.to];
  if (e.points && e.points.length > 1) {
    const [first, ...rest] = e.points;
    return `M${first[0]},${first[1]}` + rest.map((p) => `L${p[0]},${p[1]}`).join("");
  }
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + b.h / 2;
  const dx = Math.max(40, Math.abs(x2 - x1) / 2);
  return `M${x1},${y1}C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}

export class GraphView {
  constructor(container, { onOpen, onHover }) {
    this.container = container;
    this.onOpen = onOpen;
    this.onHover = onHover || (() => {});
    this.view = { x: 0, y: 0, k: 1 };
    this.canvas = document.createElement("canvas");
    this.canvas.className = "graph-canvas";
    container.appendChild(this.canvas);
    this.svg = el("svg", { class: "graph-svg", role: "img", "aria-label": "asset graph" });
    container.appendChild(this.svg);
    const defs = el("defs", {}, this.svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0L10,5L0,10z", class: "arrow-head" }, marker);
    this.root = el("g", {}, this.svg);
    this.frame = 0;
    this.bindEvents();
  }

  draw(layout, assets) {
    this.layout = layout;
    this.root.textContent = "";
    // Groups and edges are painted on the canvas at every zoom level: as SVG, one path of
    // thousands of curves is re-rasterised on every pan frame (~80 ms here for 2,000 assets).
    const d = layout.edges.map((e) => edgePath(e, layout.nodes)).join("");
    this.hiEdges = el("path", { class: "edges hi", d: "", "marker-end": "url(#arrow)" }, this.root);
    this.byKey = new Map();
    this.nodeEls = [];
    const nodesLayer = el("g", { class: "nodes" }, this.root);
    this.nodesLayer = nodesLayer;
    for (const a of assets) {
      const n = layout.nodes[a.key];
      if (!n) continue;
      // Created detached: cull() attaches the ones in view.
      const g = el("g", { class: "node", transform: `translate(${n.x},${n.y})`, "data-key": a.key, tabindex: 0 });
      el("rect", { width: n.w, height: n.h, rx: 7 }, g);
      el("rect", { class: "state-bar", width: 5, height: n.h, rx: 2 }, g);
      const parts = a.key.split("/");
      const name = el("text", { x: 14, y: 19, class: "label" }, g);
      name.textContent = parts[parts.length - 1];
      const sub = el("text", { x: 14, y: 35, class: "sub" }, g);
      sub.textContent = parts.length > 1 ? parts.slice(0, -1).join("/") + " · " : "";
      const st = el("tspan", { class: "state-text" }, sub);
      st.textContent = a.state || "";
      if (a.partitioned) {
        const p = el("text", { x: n.w - 10, y: 19, class: "sub part", "text-anchor": "end" }, g);
        p.textContent = "▦";
      }
      const title = el("title", {}, g);
      title.textContent = `${a.key} (${a.state})`;
      this.byKey.set(a.key, { g, n, st });
      this.nodeEls.push({ g, n, visible: false });
    }
    this.adjacency(layout.edges);
    this.edgePath2d = new Path2D(d);
    this.groupPath2d = new Path2D();
    for (const g of layout.groups) this.groupPath2d.roundRect(g.x, g.y, g.w, g.h, 10);
    this.updateStates(assets);
    this.fit();
  }

  adjacency(edges) {
    this.edgesOf = new Map();
    for (const e of edges) {
      for (const k of [e.from, e.to]) {
        if (!this.edgesOf.has(k)) this.edgesOf.set(k, []);
        this.edgesOf.get(k).push(e);
      }
    }
  }

  updateStates(assets) {
    this.nodePaths = {};
    for (const a of assets) {
      const hit = this.byKey.get(a.key);
      if (!hit) continue;
      const state = a.state || "missing";
      hit.g.setAttribute("data-state", state);
      hit.st.textContent = a.state || "";
      if (!this.nodePaths[state]) this.nodePaths[state] = new Path2D();
      this.nodePaths[state].rect(hit.n.x, hit.n.y, hit.n.w, hit.n.h);
    }
    if (this.far) this.paint();
  }

  // The zoomed-out picture: groups, edges and state-coloured nodes, no text but group names.
  paint() {
    const c = this.canvas;
    const r = this.container.getBoundingClientRect();
    const dpr = devicePixelRatio || 1;
    if (c.width !== Math.round(r.width * dpr) || c.height !== Math.round(r.height * dpr)) {
      c.width = Math.round(r.width * dpr);
      c.height = Math.round(r.height * dpr);
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, c.width, c.height);
    const { x, y, k } = this.view;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * x, dpr * y);
    ctx.fillStyle = "rgba(255,255,255,0.6)";
    ctx.fill(this.groupPath2d);
    ctx.lineWidth = 1 / k;
    ctx.strokeStyle = "#cfd4e3";
    ctx.stroke(this.groupPath2d);
    ctx.strokeStyle = "#b4bacc";
    ctx.stroke(this.edgePath2d);
    if (this.far) this.paintNodes(ctx);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#4b5166";
    ctx.font = "600 12px system-ui, sans-serif";
    for (const g of this.layout.groups) {
      // Inside the box's header band when it is tall enough on screen, above the box otherwise.
      const inside = 30 * k >= 18;
      if (g.w * k > 40) ctx.fillText(`${g.name} · ${g.count}`, x + g.x * k + (inside ? 12 : 4), y + g.y * k + (inside ? 20 * k + 5 : -5));
    }
  }

  paintNodes(ctx) {
    if (this.selected) ctx.globalAlpha = 0.25;
    for (const [state, path] of Object.entries(this.nodePaths)) {
      ctx.fillStyle = FAR_COLORS[state] || FAR_COLORS.missing;
      ctx.fill(path);
    }
    ctx.globalAlpha = 1;
    if (this.selected) {
      ctx.fillStyle = "#4f46e5";
      for (const key of this.selected) {
        const n = this.layout.nodes[key];
        if (n) ctx.fillRect(n.x, n.y, n.w, n.h);
      }
    }
  }

  hitTest(clientX, clientY) {
    const r = this.container.getBoundingClientRect();
    const { x, y, k } = this.view;
    const gx = (clientX - r.left - x) / k;
    const gy = (clientY - r.top - y) / k;
    for (const [key, n] of Object.entries(this.layout.nodes)) {
      if (gx >= n.x && gx <= n.x + n.w && gy >= n.y && gy <= n.y + n.h) return key;
    }
    return null;
  }

  highlight(keys) {
    this.selected = keys;
    if (this.far && this.layout) this.paint();
    this.svg.classList.toggle("filtering", keys !== null);
    for (const [k, { g }] of this.byKey) g.classList.toggle("hit", keys !== null && keys.has(k));
  }

  focusEdges(key) {
    const list = key ? this.edgesOf.get(key) || [] : [];
    this.hiEdges.setAttribute("d", list.map((e) => edgePath(e, this.layout.nodes)).join(""));
  }

  bounds(keys) {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    const boxes = keys ? [...keys].map((k) => this.layout.nodes[k]).filter(Boolean) : this.layout.groups;
    for (const b of boxes) {
      x0 = Math.min(x0, b.x);
      y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.w);
      y1 = Math.max(y1, b.y + b.h);
    }
    return boxes.length ? { x0, y0, x1, y1 } : { x0: 0, y0: 0, x1: 1, y1: 1 };
  }

  fit(keys = null) {
    const { x0, y0, x1, y1 } = this.bounds(keys);
    const r = this.container.getBoundingClientRect();
    const w = Math.max(r.width, 100);
    const h = Math.max(r.height, 100);
    const k = Math.min(1.2, 0.92 * Math.min(w / (x1 - x0 + 1), h / (y1 - y0 + 1)));
    this.view = { k, x: (w - k * (x1 + x0)) / 2, y: (h - k * (y1 + y0)) / 2 };
    this.apply();
  }

  zoomBy(factor, cx, cy) {
    const r = this.container.getBoundingClientRect();
    const px = cx ?? r.width / 2;
    const py = cy ?? r.height / 2;
    const k = Math.min(3, Math.max(0.02, this.view.k * factor));
    const f = k / this.view.k;
    this.view = { k, x: px - (px - this.view.x) * f, y: py - (py - this.view.y) * f };
    this.apply();
  }

  apply() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const { x, y, k } = this.view;
      const far = k < LABELS_MIN_SCALE;
      if (far !== this.far) {
        this.far = far;
        this.root.style.display = far ? "none" : "";
      }
      const t0 = performance.now();
      this.paint();
      if (!far) {
        // Culling is a pass over boxes and touches only nodes that enter or leave the view.
        this.cull();
        this.root.setAttribute("transform", `translate(${x},${y}) scale(${k})`);
      }
      this.svg.classList.toggle("far", far);
      this.svg.dataset.scale = k.toFixed(3);
      this.svg.dataset.frameMs = (performance.now() - t0).toFixed(1);
    });
  }

  // Hide nodes outside the viewport (plus a margin) so panning repaints only what is seen.
  cull() {
    const r = this.container.getBoundingClientRect();
    const { x, y, k } = this.view;
    const m = 200 / k;
    const vx0 = -x / k - m;
    const vy0 = -y / k - m;
    const vx1 = (r.width - x) / k + m;
    const vy1 = (r.height - y) / k + m;
    let shown = 0;
    for (const item of this.nodeEls) {
      const { n } = item;
      const vis = n.x + n.w >= vx0 && n.x <= vx1 && n.y + n.h >= vy0 && n.y <= vy1;
      if (vis !== item.visible) {
        // Detached, not display:none: hidden SVG nodes still cost a layout pass per frame
        // (75 ms vs 17 ms a frame with 2,000 assets, 40 in view).
        if (vis) this.nodesLayer.appendChild(item.g);
        else item.g.remove();
        item.visible = vis;
      }
      if (vis) shown += 1;
    }
    this.svg.dataset.visibleNodes = String(shown);
  }

  bindEvents() {
    const svg = this.svg;
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = this.container.getBoundingClientRect();
      this.zoomBy(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (ev) => {
      drag = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y, moved: false };
    });
    this.onMove = (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) svg.setPointerCapture?.(ev.pointerId);
      drag.moved = true;
      svg.classList.add("panning");
      this.view = { ...this.view, x: drag.vx + dx, y: drag.vy + dy };
      this.apply();
    };
    this.onUp = () => {
      if (drag && drag.moved) this.suppressClick = true;
      drag = null;
      svg.classList.remove("panning");
    };
    addEventListener("pointermove", this.onMove);
    addEventListener("pointerup", this.onUp);
    svg.addEventListener("click", (ev) => {
      if (this.suppressClick) {
        this.suppressClick = false;
        return;
      }
      const node = ev.target.closest?.(".node");
      const key = node ? node.dataset.key : this.far ? this.hitTest(ev.clientX, ev.clientY) : null;
      if (key) this.onOpen(key);
    });
    svg.addEventListener("keydown", (ev) => {
      const node = ev.target.closest?.(".node");
      if (node && ev.key === "Enter") this.onOpen(node.dataset.key);
    });
    svg.addEventListener("mousemove", (ev) => {
      if (!this.far || this.hovering) return;
      // Hit-testing 2,000 boxes is cheap, but once a frame is enough.
      this.hovering = requestAnimationFrame(() => {
        this.hovering = 0;
        const key = this.hitTest(ev.clientX, ev.clientY);
        svg.classList.toggle("over-node", key !== null);
        if (key !== this.hovered) {
          this.hovered = key;
          this.onHover(key);
        }
      });
    });
    svg.addEventListener("mouseover", (ev) => {
      if (this.far) return;
      const node = ev.target.closest?.(".node");
      const key = node ? node.dataset.key : null;
      if (key !== this.hovered) {
        this.hovered = key;
        this.focusEdges(key);
        this.onHover(key);
      }
    });
    svg.addEventListener("dblclick", (ev) => {
      if (!ev.target.closest?.(".node")) this.fit();
    });
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    removeEventListener("pointermove", this.onMove);
    removeEventListener("pointerup", this.onUp);
    this.svg.remove();
    this.canvas.remove();
  }
}
