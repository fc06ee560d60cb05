// Run page: header with trace link and re-execute/cancel, Gantt of steps per worker, the step
// table with full tracebacks, and logs tailed live while the run is in progress.
import { useEffect, useRef, useState } from "../vendor/htm-preact-standalone.module.js";
import { api, query } from "./api.js";
import { Badge, ErrorBox, can, duration, fmtDuration, fmtTime, href, html, isActive, navigate, pick, runEnd, runHref, runStart, selectionText, shortNode, statusClass, toSeconds } from "./util.js";

const stepStart = (s) => pick(s, "start", "start_time", "started_at");
const stepEnd = (s) => pick(s, "end", "end_time", "ended_at");
const stepLane = (s) => {
  const node = shortNode(pick(s, "node", "node_id", "host"));
  const pid = pick(s, "worker_pid", "pid");
  if (!node && !pid) return null;
  return pid ? `${node || "?"} · pid ${pid}` : node;
};

// Steps of one worker that overlap in time (or would be drawn on top of each other) go on
// separate rows of its lane, first fit.
function packRows(bars, minSpan) {
  const rows = [];
  for (const bar of [...bars].sort((x, y) => x.a - y.a)) {
    const end = Math.max(bar.b, bar.a + minSpan);
    let row = rows.findIndex((last) => last <= bar.a);
    if (row === -1) {
      row = rows.length;
      rows.push(end);
    } else rows[row] = end;
    bar.row = row;
  }
  return rows.length;
}

function shortError(err) {
  if (!err) return null;
  if (typeof err === "string") return err.split("\n").filter(Boolean).pop();
  return [pick(err, "type", "class_name"), pick(err, "message", "msg")].filter(Boolean).join(": ");
}

function errorText(err) {
  if (!err) return null;
  if (typeof err === "string") return err;
  const head = [pick(err, "type", "class_name", "cls"), pick(err, "message", "msg")].filter(Boolean).join(": ");
  const tb = pick(err, "traceback", "stack", "stack_trace");
  return [tb ? (Array.isArray(tb) ? tb.join("") : tb) : null, tb && String(tb).includes(head) ? null : head].filter(Boolean).join("\n");
}

function Gantt({ steps, run }) {
  const timed = steps.filter((s) => toSeconds(stepStart(s)) !== null);
  if (timed.length === 0) return html`<p class="muted">No step has started yet.</p>`;
  const t0 = Math.min(...timed.map((s) => toSeconds(stepStart(s))));
  const now = Date.now() / 1000;
  const t1 = Math.max(toSeconds(runEnd(run)) || 0, ...timed.map((s) => toSeconds(stepEnd(s)) ?? now));
  const span = Math.max(0.001, t1 - t0);
  const lanes = new Map();
  for (const s of timed) {
    const l = stepLane(s) || "unknown worker";
    if (!lanes.has(l)) lanes.set(l, []);
    const a = toSeconds(stepStart(s)) - t0;
    lanes.get(l).push({ s, a, b: (toSeconds(stepEnd(s)) ?? now) - t0 });
  }
  // A label needs ~70 px of a ~1100 px track before the next bar may start on the same row.
  const minSpan = span * 0.07;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return html`
    <div class="gantt" data-testid="gantt">
      <div class="gantt-axis"><div class="gantt-lane-label"></div><div class="gantt-track">
        ${ticks.map((f) => html`<span style=${`left:${f * 100}%`}>${fmtDuration(f * span)}</span>`)}
      </div></div>
      ${[...lanes].map(([lane, bars]) => {
        const rows = packRows(bars, minSpan);
        return html`
        <div class="gantt-row">
          <div class="gantt-lane-label mono" title=${lane}>${lane}</div>
          <div class="gantt-track" style=${`height:${rows * 24 + 4}px`}>
            ${bars.map(({ s, a, b, row }) => {
              const left = Math.min((a / span) * 100, 99.5);
              const width = Math.min(((b - a) / span) * 100, 100 - left);
              return html`<div class=${`gantt-bar ${statusClass(s.status)}`} title=${`${s.key} · ${s.status} · ${fmtDuration(b - a)}`}
                style=${`left:${left}%;width:max(4px, ${width}%);top:${4 + row * 24}px`}><span>${s.key}</span></div>`;
            })}
          </div>
        </div>`;
      })}
    </div>`;
}

function Steps({ steps }) {
  const [open, setOpen] = useState({});
  return html`
    <table class="table steps-table" data-testid="steps-table">
      <thead><tr><th>Step</th><th>Partition</th><th>Status</th><th>Started</th><th class="num">Duration</th><th class="num">Attempts</th><th>Worker</th></tr></thead>
      <tbody>${steps.map((s) => {
        const err = errorText(s.error);
        return html`
          <tr>
            <td class="mono">${s.asset ? html`<a href=${href("assets", s.asset)}>${s.key}</a>` : s.key}</td>
            <td class="mono">${s.partition || "–"}</td>
            <td><${Badge} status=${s.status} />${err && html` <button class="link" onClick=${() => setOpen({ ...open, [s.key]: !open[s.key] })}>${open[s.key] ? "hide error" : "show error"}</button>
              <div class="step-error">${shortError(s.error)}</div>`}</td>
            <td class="nowrap">${fmtTime(stepStart(s))}</td>
            <td class="num">${fmtDuration(duration(stepStart(s), stepEnd(s)))}</td>
            <td class="num">${pick(s, "attempts", "attempt") ?? "–"}</td>
            <td class="mono">${stepLane(s) || "–"}</td>
          </tr>
          ${err && open[s.key] && html`<tr class="error-row"><td colspan="7"><pre class="traceback" data-testid="traceback">${err}</pre></td></tr>`}`;
      })}</tbody>
    </table>`;
}

function Logs({ runId, live }) {
  const [records, setRecords] = useState([]);
  const [error, setError] = useState(null);
  const [level, setLevel] = useState("");
  const [follow, setFollow] = useState(true);
  const box = useRef(null);
  const cursor = useRef(null);
  const finished = useRef(false);
  const liveRef = useRef(live);
  liveRef.current = live;

  useEffect(() => {
    let stop = false;
    let timer = null;
    cursor.current = null;
    setRecords([]);
    const load = async () => {
      try {
        const data = await api.get(`/api/runs/${encodeURIComponent(runId)}/logs${query({ after: cursor.current })}`);
        if (stop) return;
        const list = Array.isArray(data) ? data : pick(data, "logs", "records", "events") || [];
        const next = pick(data, "cursor", "next_cursor", "last_event_id");
        finished.current = data.finished === true;
        if (list.length) {
          setRecords((r) => [...r, ...list]);
          cursor.current = next ?? pick(list[list.length - 1], "id", "event_id");
        } else if (next !== undefined) cursor.current = next;
        setError(null);
      } catch (e) {
        if (!stop) setError(e);
      }
      // Keep tailing while the run is live, and once more after it ends to catch the last lines.
      if (!stop && (liveRef.current || !finished.current)) timer = setTimeout(load, 1000);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [runId]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [records, follow]);

  const shown = level ? records.filter((r) => String(pick(r, "level", "levelname") || "").toUpperCase() === level) : records;
  return html`
    <div class="logs">
      <div class="logs-head">
        <select aria-label="log level" value=${level} onChange=${(e) => setLevel(e.target.value)}>
          ${["", "DEBUG", "INFO", "WARNING", "ERROR"].map((l) => html`<option value=${l}>${l || "all levels"}</option>`)}
        </select>
        <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.target.checked)} /> follow</label>
        ${live && html`<span class="live-dot">live</span>`}
        <span class="muted small">${records.length} records</span>
      </div>
      <${ErrorBox} error=${error} />
      <div class="log-box mono" ref=${box} data-testid="logs">
        ${shown.length === 0 && html`<div class="muted">No log records${live ? " yet" : ""}.</div>`}
        ${shown.map((r) => {
          const lvl = String(pick(r, "level", "levelname") || "INFO").toUpperCase();
          return html`<div class=${`log-line lvl-${lvl.toLowerCase()}`}>
            <span class="log-time">${fmtTime(pick(r, "timestamp", "time", "created"))}</span>
            <span class="log-lvl">${lvl}</span>
            <span class="log-step" title=${pick(r, "step", "step_key", "asset") || ""}>${pick(r, "step", "step_key", "asset") || ""}</span>
            <span class="log-kind" title=${r.kind || ""}>${r.kind || ""}</span>
            <span class="log-msg">${pick(r, "message", "msg", "text") || ""}</span>
          </div>`;
        })}
      </div>
    </div>`;
}

export function RunPage({ runId, me }) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [tab, setTab] = useState("timeline");

  useEffect(() => {
    let stop = false;
    let timer = null;
    setRun(null);
    const load = async () => {
      try {
        const data = await api.get(`/api/runs/${encodeURIComponent(runId)}`);
        if (stop) return;
        setRun(data);
        setError(null);
        if (isActive(data.status)) timer = setTimeout(load, 1000);
      } catch (e) {
        if (!stop) {
          setError(e);
          timer = setTimeout(load, 3000);
        }
      }
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [runId]);

  async function act(path, body, go) {
    setBusy(true);
    setActionError(null);
    try {
      const resp = await api.post(`/api/runs/${encodeURIComponent(runId)}/${path}`, body);
      if (go && resp && resp.run_id) navigate(runHref(resp.run_id));
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  }

  if (!run) return html`<div class="page">${error ? html`<${ErrorBox} error=${error} />` : html`<p class="muted">Loading run ${runId}…</p>`}</div>`;
  const steps = run.steps || [];
  const live = isActive(run.status);
  const failed = statusClass(run.status) === "fail" || statusClass(run.status) === "cancel";
  const counts = {};
  for (const s of steps) {
    const name = String(s.status || "unknown").toLowerCase();
    counts[name] = (counts[name] || 0) + 1;
  }
  return html`
    <div class="page run-page">
      <div class="crumbs"><a href=${href("runs")}>Runs</a> / <span class="mono">${run.run_id}</span></div>
      <div class="page-head">
        <h1 class="mono">${run.run_id}</h1>
        <span data-testid="run-status"><${Badge} status=${run.status} /></span>
        <div class="spacer"></div>
        ${can(me, "cancel") && live && html`<button class="danger" disabled=${busy} onClick=${() => act("cancel", {}, false)}>Cancel run</button>`}
        ${can(me, "reexecute") && !live && failed && html`<button class="primary" disabled=${busy} onClick=${() => act("reexecute", { from_failure: true }, true)}>Re-execute from failure</button>`}
        ${can(me, "reexecute") && !live && html`<button class=${failed ? "ghost" : "primary"} disabled=${busy} onClick=${() => act("reexecute", { from_failure: false }, true)}>Re-execute all</button>`}
      </div>
      <${ErrorBox} error=${actionError || error} />
      <dl class="kv run-kv">
        ${run.job_name && html`<dt>Job</dt><dd class="mono">${run.job_name}</dd>`}
        <dt>Selection</dt><dd class="mono" title=${(run.selection || []).join(", ")}>${selectionText(run.selection, 8)}</dd>
        <dt>Partition</dt><dd class="mono">${run.partition || "–"}</dd>
        <dt>Started</dt><dd>${fmtTime(runStart(run))}</dd>
        <dt>Duration</dt><dd>${fmtDuration(duration(runStart(run), runEnd(run)))}</dd>
        <dt>Steps</dt><dd>${steps.length} · ${Object.entries(counts).map(([k, v]) => html`<span class=${`badge ${statusClass(k)}`}>${v} ${k}</span> `)}</dd>
        ${run.backfill_id && html`<dt>Backfill</dt><dd class="mono"><a href=${href("backfills", run.backfill_id)}>${run.backfill_id}</a></dd>`}
        <dt>Trace</dt><dd class="mono" data-testid="trace">${run.trace_id ? (run.trace_url ? html`<a href=${run.trace_url} target="_blank" rel="noopener">${run.trace_id}</a>` : run.trace_id) : "–"}</dd>
        ${run.parent_run_id && html`<dt>Re-execution of</dt><dd class="mono"><a href=${runHref(run.parent_run_id)}>${run.parent_run_id}</a></dd>`}
      </dl>
      ${run.error && html`<pre class="traceback">${errorText(run.error)}</pre>`}
      <div class="tabs" role="tablist">
        ${[["timeline", "Timeline"], ["steps", `Steps (${steps.length})`], ["logs", "Logs"]].map(([t, label]) => html`
          <button role="tab" aria-selected=${tab === t} class=${tab === t ? "on" : ""} onClick=${() => setTab(t)}>${label}</button>`)}
      </div>
      ${tab === "timeline" && html`<section class="card wide"><${Gantt} steps=${steps} run=${run} /></section><section class="card wide"><${Steps} steps=${steps} /></section>`}
      ${tab === "steps" && html`<section class="card wide"><${Steps} steps=${steps} /></section>`}
      ${tab === "logs" && html`<section class="card wide"><${Logs} runId=${run.run_id} live=${live} /></section>`}
    </div>`;
}
