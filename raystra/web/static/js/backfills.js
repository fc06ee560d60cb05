// Backfills: list with progress, detail with counts and its runs, launch/cancel/resume.
import { useState } from "../vendor/htm-preact-standalone.module.js";
import { api, query } from "./api.js";
import { openLaunch } from "./launch.js";
import { Badge, ErrorBox, can, fmtNumber, fmtTime, href, html, isActive, navigate, pick, runHref, runStart, selectionText, usePoll } from "./util.js";

const bfId = (b) => String(pick(b, "backfill_id", "id"));
// CANCELING is still in flight: keep polling until the driver records CANCELED.
const inFlight = (b) => b && (isActive(b.status) || String(b.status).toUpperCase() === "CANCELING");

// Target counts by status (`counts`: materialized, failed, in_progress, requested, ...) as
// {total, done, failed, running}.
export function progressOf(b) {
  const c = b.counts || {};
  const num = (...names) => names.reduce((sum, n) => sum + Number(c[n] || 0), 0);
  const done = num("materialized");
  const failed = num("failed");
  const running = num("in_progress", "running", "started");
  const total = Number(b.total ?? Object.values(c).reduce((s, n) => s + Number(n), 0));
  return { total, done, failed, running };
}

export function Progress({ b }) {
  const p = progressOf(b);
  const pct = (x) => (p.total ? (100 * x) / p.total : 0);
  return html`
    <div class="progress" title=${`${p.done} done, ${p.failed} failed, ${p.running} running of ${p.total}`} data-testid="backfill-progress">
      <div class="progress-bar">
        <i class="ok" style=${`width:${pct(p.done)}%`}></i><i class="fail" style=${`width:${pct(p.failed)}%`}></i><i class="run" style=${`width:${pct(p.running)}%`}></i>
      </div>
      <span class="small">${fmtNumber(p.done)} / ${fmtNumber(p.total)}${p.failed ? html` · <b class="t-fail">${fmtNumber(p.failed)} failed</b>` : ""}</span>
    </div>`;
}

// `partitions` is the request as stored: {from, to}, {keys: [...]}, {all: true}, ...
function rangeText(b) {
  const p = b.partitions;
  if (!p) return "–";
  if (typeof p === "string") return p;
  if (Array.isArray(p)) return p.length > 3 ? `${p.slice(0, 3).join(", ")} … (${p.length})` : p.join(", ");
  const only = p.only ? ` (only ${p.only})` : "";
  if (Array.isArray(p.range) && p.range.length === 2) return `${p.range[0]} … ${p.range[1]}${only}`;
  const from = pick(p, "from", "from_", "start");
  if (from !== undefined) return `${from} … ${pick(p, "to", "end")}`;
  const keys = pick(p, "keys", "partitions");
  if (Array.isArray(keys)) return keys.length > 3 ? `${keys.slice(0, 3).join(", ")} … (${keys.length})` : keys.join(", ");
  if (p.all) return `all partitions${only}`;
  return Object.entries(p).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join("; ") || "–";
}

export function BackfillsPage({ me }) {
  const [data, error] = usePoll(() => api.get("/api/backfills"), [], { ms: 2000, active: (d) => (d?.backfills || d || []).some?.(inFlight) });
  const list = data ? (Array.isArray(data) ? data : data.backfills) : null;
  return html`
    <div class="page">
      <div class="page-head"><h1>Backfills</h1><div class="spacer"></div>
        ${can(me, "backfill") && html`<button class="primary" onClick=${() => openLaunch({ mode: "range", backfill: true })}>Launch backfill…</button>`}
      </div>
      <${ErrorBox} error=${error} />
      ${!list ? html`<p class="muted">Loading…</p>` : list.length === 0 ? html`<p class="muted">No backfills yet. Launch one here, or drag a range on a partitioned asset's partition bar.</p>` : html`
        <table class="table" data-testid="backfills-table">
          <thead><tr><th>Backfill</th><th>Status</th><th>Selection</th><th>Partitions</th><th>Progress</th><th>Created</th></tr></thead>
          <tbody>${list.map((b) => html`
            <tr class="clickable" onClick=${() => navigate(href("backfills", bfId(b)))}>
              <td class="mono"><a href=${href("backfills", bfId(b))}>${bfId(b).slice(0, 12)}</a></td>
              <td><${Badge} status=${b.status} /></td>
              <td class="mono ellipsis">${selectionText(b.selection)}</td>
              <td class="mono">${rangeText(b)}</td>
              <td><${Progress} b=${b} /></td>
              <td class="nowrap">${fmtTime(b.created_at)}</td>
            </tr>`)}</tbody>
        </table>`}
    </div>`;
}

export function BackfillPage({ id, me }) {
  const [b, error, reload] = usePoll(() => api.get(`/api/backfills/${encodeURIComponent(id)}`), [id], { ms: 1500, active: inFlight });
  const [runs] = usePoll(() => api.get(`/api/runs${query({ backfill: id, limit: 100 })}`), [id, b && b.status, b && (b.run_ids || []).length], { ms: 2000, active: (d) => (d?.runs || []).some((r) => isActive(r.status)) });
  const [actionError, setActionError] = useState(null);
  async function act(what) {
    setActionError(null);
    try {
      await api.post(`/api/backfills/${encodeURIComponent(id)}/${what}`);
      reload();
    } catch (e) {
      setActionError(e);
    }
  }
  if (!b) return html`<div class="page">${error ? html`<${ErrorBox} error=${error} />` : html`<p class="muted">Loading backfill…</p>`}</div>`;
  const runList = runs ? (Array.isArray(runs) ? runs : runs.runs) : [];
  const st = String(b.status || "").toUpperCase();
  const p = progressOf(b);
  const counts = b.counts;
  return html`
    <div class="page">
      <div class="crumbs"><a href=${href("backfills")}>Backfills</a> / <span class="mono">${id}</span></div>
      <div class="page-head"><h1 class="mono">${id}</h1><span data-testid="backfill-status"><${Badge} status=${b.status} /></span><div class="spacer"></div>
        ${can(me, "cancel") && isActive(b.status) && html`<button class="danger" onClick=${() => act("cancel")}>Cancel backfill</button>`}
        ${st === "CANCELING" && html`<span class="muted">Canceling…</span>`}
        ${can(me, "backfill") && !inFlight(b) && st !== "COMPLETED" && p.done < p.total && html`<button class="primary" onClick=${() => act("resume")}>Resume</button>`}
      </div>
      <${ErrorBox} error=${actionError || error} />
      <section class="card wide">
        <dl class="kv">
          <dt>Selection</dt><dd class="mono">${selectionText(b.selection, 10)}</dd>
          <dt>Partitions</dt><dd class="mono">${rangeText(b)}</dd>
          <dt>Progress</dt><dd><${Progress} b=${b} /></dd>
          ${counts && Object.keys(counts).length > 0 && Object.entries(counts).map(([k, v]) => html`<dt>${k.replaceAll("_", " ")}</dt><dd>${fmtNumber(v)}</dd>`)}
          ${b.error && html`<dt>Error</dt><dd><pre class="traceback">${typeof b.error === "string" ? b.error : JSON.stringify(b.error, null, 2)}</pre></dd>`}
        </dl>
      </section>
      <section class="card wide"><h3>Runs</h3>
        ${runList.length === 0 ? html`<p class="muted">No runs yet.</p>` : html`<table class="table"><tbody>${runList.map((r) => html`
          <tr><td class="mono"><a href=${runHref(r.run_id)}>${r.run_id.slice(0, 12)}</a></td><td><${Badge} status=${r.status} /></td><td class="mono">${r.partition || (r.partition_range ? r.partition_range.join(" … ") : "")}</td><td>${fmtTime(runStart(r))}</td></tr>`)}</tbody></table>`}
      </section>
    </div>`;
}
