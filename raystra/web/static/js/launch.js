// The launch dialog: materialize a selection (optionally one partition or a range) or start a
// backfill. Any page opens it with openLaunch({...}); App renders it.
import { useEffect, useState } from "../vendor/htm-preact-standalone.module.js";
import { api } from "./api.js";
import { ErrorBox, href, html, navigate, runHref } from "./util.js";

const EVENT = "raystra:launch";

export function openLaunch(initial = {}) {
  dispatchEvent(new CustomEvent(EVENT, { detail: initial }));
}

export function backfillId(resp) {
  return resp.backfill_id ?? resp.id ?? (resp.backfill && (resp.backfill.backfill_id ?? resp.backfill.id));
}

export function LaunchHost() {
  const [initial, setInitial] = useState(null);
  useEffect(() => {
    const on = (ev) => setInitial({ ...ev.detail, nonce: Date.now() });
    addEventListener(EVENT, on);
    return () => removeEventListener(EVENT, on);
  }, []);
  if (!initial) return null;
  return html`<${LaunchDialog} key=${initial.nonce} initial=${initial} onClose=${() => setInitial(null)} />`;
}

function LaunchDialog({ initial, onClose }) {
  const [selection, setSelection] = useState(initial.selection || "*");
  const [mode, setMode] = useState(initial.mode || (initial.from ? "range" : initial.partition ? "partition" : "none"));
  const [partition, setPartition] = useState(initial.partition || "");
  const [from, setFrom] = useState(initial.from || "");
  const [to, setTo] = useState(initial.to || "");
  const [asBackfill, setAsBackfill] = useState(initial.backfill ?? mode === "range");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);

  async function submit(ev) {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "range" && asBackfill) {
        const resp = await api.post("/api/backfills", { selection, from, to });
        onClose();
        navigate(href("backfills", String(backfillId(resp))));
        return;
      }
      const body = { selection };
      if (mode === "partition") body.partition = partition;
      if (mode === "range") body.partition_range = [from, to];
      const resp = await api.post("/api/runs", body);
      onClose();
      navigate(runHref(resp.run_id));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return html`
    <div class="modal-back" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <form class="modal" role="dialog" aria-label="Launch" onSubmit=${submit}>
        <h3>Materialize</h3>
        <label>Selection
          <input name="selection" value=${selection} onInput=${(e) => setSelection(e.target.value)} required />
        </label>
        <div class="seg" role="radiogroup" aria-label="partitions">
          ${[["none", "Unpartitioned / all"], ["partition", "One partition"], ["range", "Partition range"]].map(([m, label]) => html`
            <label class=${mode === m ? "on" : ""}><input type="radio" name="mode" value=${m} checked=${mode === m} onChange=${() => setMode(m)} />${label}</label>`)}
        </div>
        ${mode === "partition" && html`<label>Partition key <input name="partition" value=${partition} onInput=${(e) => setPartition(e.target.value)} placeholder="2024-03-01" required /></label>`}
        ${mode === "range" && html`
          <div class="row2">
            <label>From <input name="from" value=${from} onInput=${(e) => setFrom(e.target.value)} required /></label>
            <label>To <input name="to" value=${to} onInput=${(e) => setTo(e.target.value)} required /></label>
          </div>
          <label class="check"><input type="checkbox" name="as_backfill" checked=${asBackfill} onChange=${(e) => setAsBackfill(e.target.checked)} />
            Launch as a backfill (tracked progress, cancel and resume)</label>`}
        <${ErrorBox} error=${error} />
        <div class="modal-actions">
          <button type="button" class="ghost" onClick=${onClose}>Cancel</button>
          <button type="submit" class="primary" disabled=${busy}>${busy ? "Launching…" : mode === "range" && asBackfill ? "Launch backfill" : "Launch run"}</button>
        </div>
      </form>
    </div>`;
}
