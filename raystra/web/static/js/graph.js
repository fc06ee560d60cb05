// Asset graph page: layout in a Web Worker, the SVG view, search by selection syntax, legend.
import { useEffect, useRef, useState } from "../vendor/htm-preact-standalone.module.js";
import { api, query } from "./api.js";
import { GraphView } from "./graph-view.js";
import { openLaunch } from "./launch.js";
import { ErrorBox, assetHref, can, fmtNumber, html, navigate } from "./util.js";

export const STATES = ["fresh", "stale", "missing", "failed", "running"];

let worker = null;
let seq = 0;
const pending = new Map();
// One layout per graph shape, kept across page visits: coming back to the graph is instant.
const cache = new Map();

function layoutInWorker(nodes, edges) {
  if (!worker) {
    worker = new Worker(new URL("./layout-worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (ev) => {
      const { id, result, error } = ev.data;
      const p = pending.get(id);
      pending.delete(id);
      if (error) p.reject(new Error(`graph layout failed: ${error}`));
      else p.resolve(result);
    };
  }
  const id = ++seq;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, nodes, edges });
  });
}

function shapeOf(assets) {
  return assets.map((a) => `${a.key}|${a.group}|${(a.deps || []).join(",")}`).join(";");
}

async function layoutFor(assets) {
  const shape = shapeOf(assets);
  if (cache.has(shape)) return { ...cache.get(shape), cached: true };
  const keys = new Set(assets.map((a) => a.key));
  const nodes = assets.map((a) => ({ key: a.key, group: a.group }));
  const edges = [];
  for (const a of assets) for (const d of a.deps || []) if (keys.has(d)) edges.push([d, a.key]);
  const t0 = performance.now();
  const result = await layoutInWorker(nodes, edges);
  result.wallMs = performance.now() - t0;
  cache.clear();
  cache.set(shape, result);
  return result;
}

export function GraphPage({ me, params }) {
  const box = useRef(null);
  const viewRef = useRef(null);
  const [assets, setAssets] = useState(null);
  const [error, setError] = useState(null);
  const [info, setInfo] = useState(null);
  const [selText, setSelText] = useState(params.get("select") || "");
  const [selection, setSelection] = useState(null);
  const [selError, setSelError] = useState(null);
  const [hovered, setHovered] = useState(null);

  useEffect(() => {
    let stop = false;
    let timer = null;
    const load = async () => {
      try {
        const data = await api.get("/api/assets");
        if (stop) return;
        setAssets(data.assets);
        setError(null);
      } catch (e) {
        if (!stop) setError(e);
      }
      // Asset states change as runs finish; the layout is reused while the shape is unchanged.
      if (!stop) timer = setTimeout(load, 5000);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, []);

  useEffect(() => {
    if (!assets || !box.current) return;
    let stop = false;
    const shape = shapeOf(assets);
    if (viewRef.current && viewRef.current.shape === shape) {
      viewRef.current.view.updateStates(assets);
      return;
    }
    setInfo({ laying: true, count: assets.length });
    layoutFor(assets).then((layout) => {
      if (stop) return;
      if (viewRef.current) viewRef.current.view.destroy();
      const view = new GraphView(box.current, {
        onOpen: (key) => navigate(assetHref(key)),
        onHover: setHovered,
      });
      const t0 = performance.now();
      view.draw(layout, assets);
      const drawMs = performance.now() - t0;
      view.svg.dataset.layoutMs = layout.ms.toFixed(0);
      view.svg.dataset.drawMs = drawMs.toFixed(0);
      view.svg.dataset.nodes = String(assets.length);
      viewRef.current = { view, shape };
      setInfo({ count: assets.length, ms: layout.ms, drawMs, cached: !!layout.cached });
      if (selection) view.highlight(selection);
    }, (e) => !stop && setError(e));
    return () => {
      stop = true;
    };
  }, [assets]);

  useEffect(() => () => viewRef.current && viewRef.current.view.destroy(), []);

  useEffect(() => {
    if (viewRef.current) viewRef.current.view.highlight(selection);
  }, [selection]);

  useEffect(() => {
    if (selText && assets) runSearch(selText);
  }, [assets !== null]);

  async function runSearch(text) {
    const q = text.trim();
    setSelError(null);
    if (!q) {
      setSelection(null);
      return;
    }
    try {
      const data = await api.get(`/api/selection${query({ q })}`);
      const keys = new Set(data.keys);
      setSelection(keys);
      if (viewRef.current && keys.size) viewRef.current.view.fit(keys);
    } catch (e) {
      setSelection(null);
      setSelError(e);
    }
  }

  const counts = {};
  for (const a of assets || []) counts[a.state] = (counts[a.state] || 0) + 1;
  const hov = hovered && assets ? assets.find((a) => a.key === hovered) : null;
  return html`
    <div class="graph-page">
      <div class="graph-toolbar">
        <form class="search" onSubmit=${(e) => { e.preventDefault(); runSearch(selText); }}>
          <input type="search" name="select" placeholder="Select assets: *, +revenue_report, group:sales, key:raw/*"
            aria-label="asset selection" value=${selText} onInput=${(e) => setSelText(e.target.value)} />
          <button type="submit">Select</button>
          ${selection && html`<button type="button" class="ghost" onClick=${() => { setSelText(""); setSelection(null); }}>Clear</button>`}
        </form>
        ${selection && html`<span class="sel-count" data-testid="selection-count">${fmtNumber(selection.size)} selected</span>`}
        ${selection && selection.size > 0 && can(me, "launch") && html`
          <button class="primary" onClick=${() => openLaunch({ selection: selText.trim() })}>Materialize selection…</button>`}
        <div class="spacer"></div>
        <div class="zoom">
          <button title="Zoom in" onClick=${() => viewRef.current?.view.zoomBy(1.3)}>+</button>
          <button title="Zoom out" onClick=${() => viewRef.current?.view.zoomBy(1 / 1.3)}>−</button>
          <button title="Fit the whole graph" onClick=${() => viewRef.current?.view.fit()}>Fit</button>
        </div>
      </div>
      ${selError && html`<div class="sel-error" role="alert">${selError.message}</div>`}
      <${ErrorBox} error=${error} />
      <div class="graph-wrap">
        <div class="graph-box" ref=${box}>
          ${(!assets || info?.laying) && html`<div class="graph-msg">${assets ? `Laying out ${fmtNumber(assets.length)} assets…` : "Loading assets…"}</div>`}
          ${assets && assets.length === 0 && html`<div class="graph-msg">No assets defined. Start the server with <code>-m your.module</code>.</div>`}
        </div>
        <aside class="legend">
          <h4>State</h4>
          ${STATES.map((s) => html`<div class="legend-row"><span class=${`dot st-${s}`}></span>${s}<b>${fmtNumber(counts[s] || 0)}</b></div>`)}
          ${info && !info.laying && html`<p class="muted small" data-testid="layout-info">${fmtNumber(info.count)} assets · layout ${Math.round(info.ms)} ms${info.cached ? " (cached)" : ""} · draw ${Math.round(info.drawMs)} ms</p>`}
          ${hov && html`<div class="hover-card"><b>${hov.key}</b><div class="muted">${hov.group}</div><div>${hov.description || ""}</div></div>`}
          <p class="muted small">Scroll to zoom, drag to pan, double-click to fit. Click an asset to open it.</p>
        </aside>
      </div>
    </div>`;
}
