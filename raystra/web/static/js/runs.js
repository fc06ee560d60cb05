// Runs list with filters (status, asset, backfill), newest first, paged with `before`.
import { useEffect, useState } from "../vendor/htm-preact-standalone.module.js";
import { api, query } from "./api.js";
import { Badge, ErrorBox, duration, fmtDuration, fmtTime, href, html, isActive, navigate, runEnd, runHref, runStart, selectionText } from "./util.js";

const STATUSES = ["", "QUEUED", "STARTED", "SUCCESS", "FAILURE", "CANCELED"];
const PAGE = 50;

export function RunsPage({ params }) {
  const filters = { status: params.get("status") || "", asset: params.get("asset") || "", backfill: params.get("backfill") || "" };
  const [runs, setRuns] = useState(null);
  const [more, setMore] = useState(null);
  const [error, setError] = useState(null);
  const [draft, setDraft] = useState(filters);
  const fkey = JSON.stringify(filters);

  useEffect(() => {
    setDraft(filters);
    let stop = false;
    let timer = null;
    const load = async () => {
      try {
        const data = await api.get(`/api/runs${query({ ...filters, limit: PAGE })}`);
        if (stop) return;
        const list = Array.isArray(data) ? data : data.runs;
        setRuns(list);
        setMore(data.next_before ?? null);
        setError(null);
        if (list.some((r) => isActive(r.status))) timer = setTimeout(load, 2000);
      } catch (e) {
        if (!stop) setError(e);
      }
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [fkey]);

  async function loadMore() {
    try {
      const data = await api.get(`/api/runs${query({ ...filters, limit: PAGE, before: more })}`);
      setRuns([...runs, ...data.runs]);
      setMore(data.next_before ?? null);
    } catch (e) {
      setError(e);
    }
  }

  function apply(ev) {
    ev.preventDefault();
    navigate(href("runs") + query(draft));
  }

  return html`
    <div class="page">
      <div class="page-head"><h1>Runs</h1></div>
      <form class="filters" onSubmit=${apply}>
        <label>Status
          <select name="status" value=${draft.status} onChange=${(e) => { const d = { ...draft, status: e.target.value }; setDraft(d); navigate(href("runs") + query(d)); }}>
            ${STATUSES.map((s) => html`<option value=${s}>${s ? s.toLowerCase() : "any"}</option>`)}
          </select>
        </label>
        <label>Asset <input name="asset" value=${draft.asset} placeholder="raw/orders" onInput=${(e) => setDraft({ ...draft, asset: e.target.value })} /></label>
        <label>Backfill <input name="backfill" value=${draft.backfill} placeholder="backfill id" onInput=${(e) => setDraft({ ...draft, backfill: e.target.value })} /></label>
        <button type="submit">Filter</button>
        ${(filters.status || filters.asset || filters.backfill) && html`<a class="button ghost" href=${href("runs")}>Clear</a>`}
      </form>
      <${ErrorBox} error=${error} />
      ${!runs ? html`<p class="muted">Loading runs…</p>` : runs.length === 0 ? html`<p class="muted">No runs match.</p>` : html`
        <table class="table runs-table" data-testid="runs-table">
          <thead><tr><th>Run</th><th>Status</th><th>Selection</th><th>Partition</th><th>Started</th><th class="num">Duration</th><th>Backfill</th></tr></thead>
          <tbody>${runs.map((r) => html`
            <tr class="clickable" onClick=${(e) => e.target.tagName !== "A" && navigate(runHref(r.run_id))}>
              <td class="mono"><a href=${runHref(r.run_id)}>${r.run_id.slice(0, 12)}</a></td>
              <td><${Badge} status=${r.status} /></td>
              <td class="mono ellipsis" title=${(r.selection || []).join(", ")}>${r.job_name ? html`<b>${r.job_name}</b> ` : ""}${selectionText(r.selection)}</td>
              <td class="mono">${r.partition || "–"}</td>
              <td class="nowrap">${fmtTime(runStart(r))}</td>
              <td class="num">${fmtDuration(duration(runStart(r), runEnd(r)))}</td>
              <td class="mono">${r.backfill_id ? html`<a href=${href("backfills", r.backfill_id)}>${String(r.backfill_id).slice(0, 12)}</a>` : "–"}</td>
            </tr>`)}</tbody>
        </table>
        ${more !== null && html`<button class="ghost" onClick=${loadMore}>Load older runs</button>`}`}
    </div>`;
}
