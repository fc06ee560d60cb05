// Asset page: what it is, where it sits in the graph, its materializations and partitions.
import { useState } from "../vendor/htm-preact-standalone.module.js";
import { api, keyPath } from "./api.js";
import { openLaunch } from "./launch.js";
import { PartitionBar } from "./partitions-bar.js";
import { ErrorBox, assetHref, can, fmtBytes, fmtNumber, fmtTime, href, html, runHref, usePoll } from "./util.js";

function KeyList({ keys }) {
  if (!keys || keys.length === 0) return html`<span class="muted">none</span>`;
  return html`<ul class="key-list">${keys.map((k) => html`<li><a href=${assetHref(k)}>${k}</a></li>`)}</ul>`;
}

function MetaValue({ value }) {
  if (value === null || value === undefined) return html`<span class="muted">–</span>`;
  if (typeof value === "object") return html`<pre class="meta-json">${JSON.stringify(value, null, 2)}</pre>`;
  const s = String(value);
  if (/^https?:\/\//.test(s)) return html`<a href=${s} target="_blank" rel="noopener">${s}</a>`;
  return s;
}

function schemaText(schema) {
  if (!schema) return null;
  if (typeof schema === "string") return schema;
  if (Array.isArray(schema)) return schema.map((c) => (typeof c === "object" ? `${c.name}: ${c.type}` : String(c))).join(", ");
  return Object.entries(schema).map(([k, v]) => `${k}: ${v}`).join(", ");
}

function History({ items }) {
  if (!items || items.length === 0) return html`<p class="muted">Never materialized.</p>`;
  return html`
    <table class="table" data-testid="materializations">
      <thead><tr><th>When</th><th>Run</th><th>Partition</th><th class="num">Rows</th><th class="num">Bytes</th><th>Schema</th><th>Path</th></tr></thead>
      <tbody>${items.map((m) => {
        const md = m.metadata || {};
        const schema = schemaText(md.schema);
        return html`<tr>
          <td class="nowrap">${fmtTime(m.timestamp)}</td>
          <td class="mono">${m.run_id ? html`<a href=${runHref(m.run_id)}>${m.run_id.slice(0, 8)}</a>` : "–"}</td>
          <td class="mono">${m.partition || "–"}</td>
          <td class="num">${fmtNumber(md.rows ?? md.row_count)}</td>
          <td class="num">${fmtBytes(md.bytes ?? md.byte_size ?? md.size_bytes)}</td>
          <td>${schema ? html`<details><summary class="mono">${schema.length > 40 ? schema.slice(0, 40) + "…" : schema}</summary><pre class="mono">${schema.split(", ").join("\n")}</pre></details>` : "–"}</td>
          <td class="mono path" title=${md.path || ""}>${md.path || "–"}</td>
        </tr>`;
      })}</tbody>
    </table>`;
}

function Partitions({ assetKey, me }) {
  const [data, error] = usePoll(() => api.get(`/api/assets/${keyPath(assetKey)}/partitions`), [assetKey], { ms: 4000, active: (d) => d && d.states.includes("r") });
  const [range, setRange] = useState(null);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">Loading partitions…</p>`;
  return html`
    <div>
      <${PartitionBar} keys=${data.keys} states=${data.states} legend=${data.legend} onRange=${setRange} />
      ${range && can(me, "launch") && html`
        <div class="actions">
          ${range.count === 1
            ? html`<button class="primary" onClick=${() => openLaunch({ selection: assetKey, partition: range.from, mode: "partition" })}>Materialize ${range.from}</button>`
            : html`<button class="primary" onClick=${() => openLaunch({ selection: assetKey, from: range.from, to: range.to, mode: "range", backfill: true })}>Backfill ${fmtNumber(range.count)} partitions…</button>`}
        </div>`}
    </div>`;
}

// Asset checks: each check's newest result (failing partitions listed), then the history.
function checkBadge(r) {
  if (!r) return html`<span class="badge queued">not run</span>`;
  if (r.passed) return html`<span class="badge st-fresh">passed</span>`;
  return html`<span class=${`badge ${r.severity === "ERROR" ? "st-failed" : "st-stale"}`}>${r.blocked ? "blocked" : "failed"} (${r.severity})</span>`;
}

function Checks({ assetKey }) {
  const [data, error] = usePoll(() => api.get(`/api/assets/${keyPath(assetKey)}/checks`), [assetKey], { ms: 5000, active: () => true });
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data || data.checks.length === 0) return null;
  return html`
    <section class="card wide" data-testid="checks"><h3>Checks <span class="muted">(${data.checks.length})</span></h3>
      <table class="table">
        <thead><tr><th>Check</th><th>Latest</th><th>Blocking</th><th>Failing partitions</th><th>Details</th><th>Run</th></tr></thead>
        <tbody>${data.checks.map((c) => html`<tr data-check=${c.name}>
          <td class="mono" title=${c.description || ""}>${c.name}</td>
          <td>${checkBadge(c.latest)}</td>
          <td>${c.blocking ? "yes" : "no"}</td>
          <td class="mono">${c.failed_partitions.length ? c.failed_partitions.slice(0, 5).join(", ") + (c.failed_partitions.length > 5 ? ` +${c.failed_partitions.length - 5}` : "") : "–"}</td>
          <td>${c.latest && c.latest.description ? c.latest.description : "–"}${c.latest && c.latest.error ? html`<details><summary>traceback</summary><pre class="mono">${c.latest.error}</pre></details>` : ""}</td>
          <td class="mono">${c.latest ? html`<a href=${runHref(c.latest.run_id)}>${c.latest.run_id.slice(0, 8)}</a>` : "–"}</td>
        </tr>`)}</tbody>
      </table>
      ${data.history.length > 0 && html`<details><summary>History (${data.history.length})</summary>
        <table class="table"><thead><tr><th>When</th><th>Check</th><th>Partition</th><th>Result</th><th>Metadata</th></tr></thead>
          <tbody>${data.history.map((r) => html`<tr>
            <td class="nowrap">${fmtTime(r.timestamp)}</td><td class="mono">${r.check_name}</td><td class="mono">${r.partition || "–"}</td>
            <td>${checkBadge(r)}</td><td><${MetaValue} value=${r.metadata} /></td></tr>`)}</tbody></table></details>`}
    </section>`;
}

export function AssetPage({ assetKey, me }) {
  const [a, error] = usePoll(() => api.get(`/api/assets/${keyPath(assetKey)}`), [assetKey], { ms: 5000, active: () => true });
  if (error && !a) return html`<div class="page"><${ErrorBox} error=${error} /></div>`;
  if (!a) return html`<div class="page"><p class="muted">Loading ${assetKey}…</p></div>`;
  const md = a.metadata || {};
  const mats = a.materializations || [];
  return html`
    <div class="page asset-page">
      <div class="crumbs"><a href="#/">Asset graph</a> / <span>${a.group || "default"}</span></div>
      <div class="page-head">
        <h1 class="mono">${a.key || assetKey}</h1>
        ${a.state && html`<span class=${`badge st-${a.state}`}>${a.state}</span>`}
        ${a.kind === "external" && html`<span class="badge queued">external</span>`}
        <div class="spacer"></div>
        <a class="button ghost" href=${href("runs") + `?asset=${encodeURIComponent(assetKey)}`}>Runs</a>
        ${can(me, "launch") && a.kind !== "external" && html`<button class="primary" onClick=${() => openLaunch({ selection: assetKey })}>Materialize…</button>`}
      </div>
      ${a.description ? html`<p class="description">${a.description}</p>` : html`<p class="muted">No description.</p>`}
      <div class="cards">
        <section class="card">
          <h3>Definition</h3>
          <dl class="kv">
            <dt>Group</dt><dd>${a.group || "default"}</dd>
            <dt>Code version</dt><dd class="mono">${a.code_version || "–"}</dd>
            <dt>Partitions</dt><dd>${a.partitions_def ? `${a.partitions_def.kind}: ${a.partitions_def.description || ""}` : "not partitioned"}</dd>
            ${Object.entries(md).map(([k, v]) => html`<dt>${k}</dt><dd><${MetaValue} value=${v} /></dd>`)}
          </dl>
        </section>
        <section class="card"><h3>Upstream</h3><${KeyList} keys=${a.deps} /></section>
        <section class="card"><h3>Downstream</h3><${KeyList} keys=${a.dependents} /></section>
      </div>
      ${a.partitions_def && html`<section class="card wide"><h3>Partitions</h3><p class="muted small">Drag across the bar to select a range to backfill; click one partition to materialize it.</p><${Partitions} assetKey=${assetKey} me=${me} /></section>`}
      <${Checks} assetKey=${assetKey} />
      <section class="card wide"><h3>Materializations <span class="muted">(${mats.length})</span></h3><${History} items=${mats} /></section>
    </div>`;
}
