// Automation: schedules and sensors (start/stop/preview for editors, tick history), freshness
// (overdue assets) and the latest automation-condition decisions. Same data as the CLI's
// `raystra schedule|sensor list` and `raystra assets status`.
import { useState } from "../vendor/htm-preact-standalone.module.js";
import { api, query } from "./api.js";
import { ErrorBox, assetHref, can, fmtTime, html, runHref, usePoll } from "./util.js";

const TICK_CLASS = { success: "ok", skipped: "queued", failed: "fail" };

function TickBadge({ status }) {
  return html`<span class=${`badge ${TICK_CLASS[status] || "queued"}`}>${status}</span>`;
}

function StatusBadge({ item }) {
  const on = item.status === "running";
  return html`<span class=${`badge ${on ? "ok" : "queued"}`} data-testid=${`status-${item.name}`}>${item.status}</span>${item.status_source === "default" ? html` <span class="small muted">default</span>` : ""}`;
}

function minutes(m) {
  if (m === null || m === undefined) return "–";
  if (m < 90) return `${Math.round(m)} min`;
  if (m < 60 * 48) return `${(m / 60).toFixed(1)} h`;
  return `${(m / 1440).toFixed(1)} days`;
}

function Ticks({ name }) {
  const [data, error] = usePoll(() => api.get(`/api/automation/${encodeURIComponent(name)}/ticks${query({ limit: 20 })}`), [name], { ms: 5000, active: () => true });
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">Loading ticks…</p>`;
  if (data.ticks.length === 0) return html`<p class="muted">No ticks yet: the daemon (<code>raystra daemon</code> or <code>raystra dev</code>) records one each time it evaluates this.</p>`;
  return html`
    <table class="table" data-testid=${`ticks-${name}`}>
      <thead><tr><th>Tick</th><th>Status</th><th>Runs</th><th>Run keys</th><th>Details</th></tr></thead>
      <tbody>${data.ticks.map((t) => html`
        <tr>
          <td class="nowrap">${fmtTime(t.tick_at)}</td>
          <td><${TickBadge} status=${t.status} /></td>
          <td class="mono">${t.run_ids.length ? t.run_ids.map((id) => html`<a href=${runHref(id)}>${id.slice(0, 8)}</a> `) : "–"}</td>
          <td class="mono ellipsis">${t.run_keys.join(", ") || "–"}</td>
          <td>${t.error ? html`<pre class="traceback">${t.error}</pre>` : t.skip_reason || ""}</td>
        </tr>`)}</tbody>
    </table>`;
}

function PreviewResult({ preview }) {
  return html`
    <div class="card wide" data-testid="preview">
      <h3>Preview of ${preview.name} <span class="small muted">evaluated ${fmtTime(preview.evaluated_at)}; nothing was recorded or launched</span></h3>
      ${preview.next_ticks.length > 0 && html`<p class="small">Next ticks: ${preview.next_ticks.map((t) => fmtTime(t)).join(" · ")}</p>`}
      ${preview.skip_reason && preview.runs.length === 0 && html`<p>Would skip: ${preview.skip_reason}</p>`}
      ${Object.entries(preview.dynamic_partitions || {}).map(([def, keys]) => html`<p>Would add ${keys.length} partition(s) to <b>${def}</b>: <span class="mono">${keys.join(", ")}</span></p>`)}
      ${preview.runs.length > 0 && html`
        <table class="table"><thead><tr><th>Would launch</th><th>Partition</th><th>Run key</th><th></th></tr></thead>
        <tbody>${preview.runs.map((r) => html`
          <tr><td class="mono">${r.job ? `job ${r.job}` : r.selection.join(", ")}</td><td class="mono">${r.partition_key || "–"}</td><td class="mono">${r.run_key || "–"}</td>
          <td class="small">${preview.already_launched.includes(r.run_key) ? "already launched: the daemon skips it" : ""}</td></tr>`)}</tbody></table>`}
      ${preview.kind === "sensor" && html`<p class="small muted">Cursor after this evaluation: <code>${JSON.stringify(preview.cursor)}</code></p>`}
    </div>`;
}

function InstigatorTable({ items, kind, me, reload }) {
  const [open, setOpen] = useState(null);
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  const editor = can(me, "automate");
  async function act(name, what) {
    setError(null);
    try {
      const result = await api.post(`/api/automation/${encodeURIComponent(name)}/${what}`);
      if (what === "preview") setPreview(result);
      else reload();
    } catch (e) {
      setError(e);
    }
  }
  if (items.length === 0) return html`<p class="muted">No ${kind}s defined. Add them with <code>Definitions(${kind}s=[...])</code>.</p>`;
  return html`
    <${ErrorBox} error=${error} />
    <table class="table" data-testid=${`${kind}s-table`}>
      <thead><tr><th>${kind === "schedule" ? "Schedule" : "Sensor"}</th><th>Status</th><th>Target</th><th>${kind === "schedule" ? "Cron" : "Interval"}</th>${kind === "schedule" && html`<th>Next tick</th>`}<th>Last tick</th><th></th></tr></thead>
      <tbody>${items.map((s) => html`
        <tr data-testid=${`row-${s.name}`}>
          <td><button class="ghost" aria-expanded=${open === s.name} onClick=${() => setOpen(open === s.name ? null : s.name)} title="Show ticks">${s.name}</button>${s.description && html`<div class="small muted">${s.description.split("\n")[0]}</div>`}</td>
          <td><${StatusBadge} item=${s} /></td>
          <td class="mono ellipsis">${s.target}</td>
          <td class="mono">${kind === "schedule" ? `${s.cron_schedule} (${s.execution_timezone})` : `${s.minimum_interval_seconds}s`}</td>
          ${kind === "schedule" && html`<td class="nowrap">${s.next_tick_at ? fmtTime(s.next_tick_at) : "–"}</td>`}
          <td class="nowrap">${s.last_tick ? html`${fmtTime(s.last_tick.tick_at)} <${TickBadge} status=${s.last_tick.status} />` : html`<span class="muted">never</span>`}</td>
          <td class="nowrap">${editor && html`
            ${s.status === "running"
              ? html`<button class="ghost" onClick=${() => act(s.name, "stop")}>Stop</button>`
              : html`<button class="primary" onClick=${() => act(s.name, "start")}>Start</button>`}
            <button class="ghost" onClick=${() => act(s.name, "preview")}>Preview</button>`}</td>
        </tr>
        ${open === s.name && html`<tr><td colspan="7"><${Ticks} name=${s.name} /></td></tr>`}`)}</tbody>
    </table>
    ${preview && items.some((s) => s.name === preview.name) && html`<${PreviewResult} preview=${preview} />`}`;
}

export function AutomationPage({ me }) {
  const [data, error, reload] = usePoll(() => api.get("/api/automation"), [], { ms: 5000, active: () => true });
  if (!data) return html`<div class="page">${error ? html`<${ErrorBox} error=${error} />` : html`<p class="muted">Loading automation…</p>`}</div>`;
  const overdue = data.freshness.filter((f) => f.overdue);
  return html`
    <div class="page">
      <div class="page-head"><h1>Automation</h1><div class="spacer"></div>
        <span class="small muted">Schedules and sensors run while <code>raystra daemon</code> (or <code>raystra dev</code>) runs.</span></div>
      <${ErrorBox} error=${error} />
      <section class="card wide"><h3>Schedules</h3><${InstigatorTable} items=${data.schedules} kind="schedule" me=${me} reload=${reload} /></section>
      <section class="card wide"><h3>Sensors</h3><${InstigatorTable} items=${data.sensors} kind="sensor" me=${me} reload=${reload} /></section>
      <section class="card wide"><h3>Freshness ${overdue.length > 0 && html`<span class="badge fail" data-testid="overdue-count">${overdue.length} overdue</span>`}</h3>
        ${data.freshness.length === 0 ? html`<p class="muted">No asset has a freshness policy (<code>@asset(freshness_policy=FreshnessPolicy(...))</code>).</p>` : html`
          <table class="table" data-testid="freshness-table">
            <thead><tr><th>Asset</th><th>Policy</th><th>Newest data</th><th>State</th></tr></thead>
            <tbody>${data.freshness.map((f) => html`
              <tr>
                <td><a href=${assetHref(f.asset_key)}>${f.asset_key}</a></td>
                <td class="small">at most ${minutes(f.maximum_lag_minutes)} old${f.cron_schedule ? html` by each <span class="mono">${f.cron_schedule}</span> (${f.cron_schedule_timezone})` : ""}</td>
                <td class="nowrap">${f.last_materialized_at ? html`${fmtTime(f.last_materialized_at)} <span class="small muted">(${minutes(f.lag_minutes)} ago)</span>` : html`<span class="muted">never</span>`}</td>
                <td>${f.overdue ? html`<span class="badge fail">overdue ${minutes(f.minutes_overdue)}</span>` : html`<span class="badge ok">fresh</span>`}</td>
              </tr>`)}</tbody>
          </table>`}
      </section>
      <section class="card wide"><h3>Automation conditions</h3>
        ${data.conditions.length === 0 ? html`<p class="muted">No asset has an <code>automation_condition</code>.</p>` : html`
          <table class="table" data-testid="conditions-table">
            <thead><tr><th>Asset</th><th>Condition</th><th>Last evaluated</th><th>Decision</th></tr></thead>
            <tbody>${data.conditions.map((c) => html`
              <tr>
                <td><a href=${assetHref(c.asset_key)}>${c.asset_key}</a></td>
                <td class="mono">${c.condition}</td>
                <td class="nowrap">${c.evaluated_at ? fmtTime(c.evaluated_at) : html`<span class="muted">not yet</span>`}</td>
                <td>${c.requested ? html`<b>requested</b>${c.run_id ? html` · <a href=${runHref(c.run_id)}>${c.run_id.slice(0, 8)}</a>` : ""}` : ""} <span class="small">${c.reason || ""}</span></td>
              </tr>`)}</tbody>
          </table>`}
      </section>
    </div>`;
}
