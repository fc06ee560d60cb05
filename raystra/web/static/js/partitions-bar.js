// Partition states as one canvas bar: each pixel column summarises the partitions under it,
// so 50,000 partitions draw in a few milliseconds. Drag to select a range; zoom into it.
import { useEffect, useMemo, useRef, useState } from "../vendor/htm-preact-standalone.module.js";
import { fmtNumber, html } from "./util.js";

const COLORS = {
  materialized: "#16a34a", success: "#16a34a", fresh: "#16a34a",
  stale: "#d97706", missing: "#cbd5e1", failed: "#dc2626",
  running: "#2563eb", "in progress": "#2563eb", in_progress: "#2563eb",
};
// Drawn bottom-up, so failures and runs stay visible inside mostly-materialized columns.
const PRIORITY = ["failed", "running", "in progress", "in_progress", "stale", "missing"];

// The legend may map letter -> name or name -> letter; normalise to letter -> name.
export function letterNames(legend) {
  const out = {};
  for (const [a, b] of Object.entries(legend || {})) {
    if (a.length === 1) out[a] = String(b).toLowerCase();
    else out[b] = a.toLowerCase();
  }
  return out;
}

function colorOf(name) {
  return COLORS[name] || "#7c3aed";
}

function prefixSums(states, letters) {
  const n = states.length;
  const sums = {};
  for (const l of letters) sums[l] = new Int32Array(n + 1);
  for (let i = 0; i < n; i += 1) {
    const c = states[i];
    for (const l of letters) sums[l][i + 1] = sums[l][i] + (c === l ? 1 : 0);
  }
  return sums;
}

export function PartitionBar({ keys, states, legend, onRange }) {
  const canvas = useRef(null);
  const names = useMemo(() => letterNames(legend), [legend]);
  const letters = useMemo(() => {
    const seen = new Set(Object.keys(names));
    for (let i = 0; i < states.length; i += 1) seen.add(states[i]);
    const rank = (l) => {
      const p = PRIORITY.indexOf(names[l]);
      return p === -1 ? 99 : p;
    };
    return [...seen].sort((a, b) => rank(a) - rank(b));
  }, [states, names]);
  const sums = useMemo(() => prefixSums(states, letters), [states, letters]);
  const n = keys.length;
  const [win, setWin] = useState([0, n]);
  const [sel, setSel] = useState(null);
  const [hover, setHover] = useState(null);
  const drag = useRef(null);
  useEffect(() => setWin([0, n]), [n]);

  const indexAt = (clientX) => {
    const r = canvas.current.getBoundingClientRect();
    const f = Math.min(0.999999, Math.max(0, (clientX - r.left) / r.width));
    return win[0] + Math.floor(f * (win[1] - win[0]));
  };

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const t0 = performance.now();
    const dpr = devicePixelRatio || 1;
    const w = Math.max(50, c.clientWidth);
    const h = c.clientHeight;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const [lo, hi] = win;
    const span = Math.max(1, hi - lo);
    const cols = Math.min(Math.floor(w), span);
    const colW = w / cols;
    for (let col = 0; col < cols; col += 1) {
      const a = lo + Math.floor((col * span) / cols);
      const b = lo + Math.floor(((col + 1) * span) / cols);
      const total = b - a;
      let y = h;
      for (const l of letters) {
        const cnt = sums[l][b] - sums[l][a];
        if (!cnt) continue;
        const seg = (cnt / total) * h;
        ctx.fillStyle = colorOf(names[l]);
        ctx.fillRect(col * colW, y - seg, colW > 3 ? colW - 1 : colW, seg);
        y -= seg;
      }
    }
    if (sel) {
      const s0 = Math.max(sel[0], lo);
      const s1 = Math.min(sel[1], hi - 1);
      if (s1 >= s0) {
        const x0 = ((s0 - lo) / span) * w;
        const x1 = ((s1 + 1 - lo) / span) * w;
        ctx.fillStyle = "rgba(79,70,229,0.22)";
        ctx.fillRect(x0, 0, Math.max(2, x1 - x0), h);
        ctx.strokeStyle = "#4f46e5";
        ctx.lineWidth = 2;
        ctx.strokeRect(x0 + 1, 1, Math.max(2, x1 - x0) - 2, h - 2);
      }
    }
    c.dataset.renderMs = (performance.now() - t0).toFixed(1);
    c.dataset.partitions = String(n);
  }, [win, sel, sums, letters, names]);

  const counts = useMemo(() => {
    const order = ["fresh", "materialized", "success", "stale", "running", "in progress", "failed", "missing"];
    const rank = (l) => (order.indexOf(names[l]) + 100) % 100;
    return [...letters].sort((a, b) => rank(a) - rank(b)).map((l) => [l, sums[l][n]]);
  }, [sums, letters, n, names]);
  const selCount = sel ? sel[1] - sel[0] + 1 : 0;

  function down(ev) {
    const i = indexAt(ev.clientX);
    drag.current = i;
    setSel([i, i]);
    canvas.current.setPointerCapture?.(ev.pointerId);
  }
  function move(ev) {
    const i = indexAt(ev.clientX);
    setHover({ i, x: ev.offsetX });
    if (drag.current !== null) setSel([Math.min(drag.current, i), Math.max(drag.current, i)]);
  }
  function up(ev) {
    if (drag.current === null) return;
    const i = indexAt(ev.clientX);
    const a = Math.min(drag.current, i);
    const b = Math.max(drag.current, i);
    drag.current = null;
    setSel([a, b]);
    if (onRange) onRange({ from: keys[a], to: keys[b], count: b - a + 1 });
  }

  return html`
    <div class="pbar">
      <div class="pbar-legend">
        ${counts.map(([l, cnt]) => html`<span><i style=${`background:${colorOf(names[l])}`}></i>${names[l] || l} <b>${fmtNumber(cnt)}</b></span>`)}
        <span class="muted">${fmtNumber(n)} partitions${win[0] !== 0 || win[1] !== n ? ` · showing ${keys[win[0]]} … ${keys[win[1] - 1]}` : ""}</span>
      </div>
      <div class="pbar-canvas-wrap">
        <canvas ref=${canvas} class="pbar-canvas" data-testid="partitions-bar"
          onPointerDown=${down} onPointerMove=${move} onPointerUp=${up} onPointerLeave=${() => setHover(null)}></canvas>
        ${hover && hover.i < n && html`<div class="pbar-tip" style=${`left:${hover.x}px`}>${keys[hover.i]} · ${names[states[hover.i]] || states[hover.i]}</div>`}
      </div>
      <div class="pbar-axis"><span>${keys[win[0]]}</span><span>${keys[win[1] - 1]}</span></div>
      ${sel && html`
        <div class="pbar-sel" data-testid="partition-selection">
          Selected <b>${keys[sel[0]]}</b>${selCount > 1 ? html` … <b>${keys[sel[1]]}</b>` : ""} (${fmtNumber(selCount)} partition${selCount === 1 ? "" : "s"})
          ${selCount > 1 && html`<button class="ghost" onClick=${() => setWin([sel[0], sel[1] + 1])}>Zoom to selection</button>`}
          <button class="ghost" onClick=${() => { setSel(null); onRange && onRange(null); }}>Clear</button>
        </div>`}
      ${(win[0] !== 0 || win[1] !== n) && html`<button class="ghost small" onClick=${() => setWin([0, n])}>Show all partitions</button>`}
    </div>`;
}
