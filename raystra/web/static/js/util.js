// Formatting, roles and the hash router shared by every page.
import { html, useEffect, useState } from "../vendor/htm-preact-standalone.module.js";

export { html };

// Timestamps from the API are epoch seconds or ISO strings.
export function toDate(t) {
  if (t === null || t === undefined || t === "") return null;
  if (typeof t === "number") return new Date(t * 1000);
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function toSeconds(t) {
  const d = toDate(t);
  return d ? d.getTime() / 1000 : null;
}

export function fmtTime(t) {
  const d = toDate(t);
  if (!d) return "–";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined || n === "") return "–";
  const v = Number(n);
  if (Number.isNaN(v)) return String(n);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}

export function fmtNumber(n) {
  if (n === null || n === undefined || n === "") return "–";
  const v = Number(n);
  return Number.isNaN(v) ? String(n) : v.toLocaleString("en-US");
}

export function duration(start, end) {
  const s = toSeconds(start);
  if (s === null) return null;
  const e = toSeconds(end) ?? Date.now() / 1000;
  return Math.max(0, e - s);
}

// Run and step statuses: the engine's names, folded into the few colours the UI uses.
const STATUS_CLASS = {
  SUCCESS: "ok", SUCCEEDED: "ok", COMPLETED: "ok", MATERIALIZED: "ok", FRESH: "ok",
  FAILURE: "fail", FAILED: "fail", ERROR: "fail",
  STARTED: "run", STARTING: "run", RUNNING: "run", IN_PROGRESS: "run", REQUESTED: "run", RETRYING: "run",
  QUEUED: "queued", PENDING: "queued", NOT_STARTED: "queued",
  CANCELED: "cancel", CANCELLED: "cancel", CANCELING: "cancel", SKIPPED: "cancel",
  STALE: "stale", MISSING: "missing",
};

export function statusClass(status) {
  return STATUS_CLASS[String(status || "").toUpperCase()] || "queued";
}

export function isActive(status) {
  return statusClass(status) === "run" || statusClass(status) === "queued";
}

export function Badge({ status }) {
  return html`<span class=${`badge ${statusClass(status)}`}>${String(status || "unknown").toLowerCase()}</span>`;
}

const ROLES = ["viewer", "launcher", "editor", "admin"];
// What each action needs; the server enforces the same, this only hides what would be refused.
const NEEDS = { launch: "launcher", reexecute: "launcher", cancel: "launcher", backfill: "launcher", automate: "editor" };

export function can(me, action) {
  if (!me || !me.auth) return true;
  return ROLES.indexOf(me.role) >= ROLES.indexOf(NEEDS[action] || "admin");
}

// Hash routes work behind any static server and any path prefix.
export function parseRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(qs || "") };
}

export function useRoute() {
  const [route, setRoute] = useState(parseRoute());
  useEffect(() => {
    const on = () => setRoute(parseRoute());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function href(...parts) {
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

export function assetHref(key) {
  return href("assets", key);
}

export function runHref(id) {
  return href("runs", id);
}

export function navigate(h) {
  location.hash = h.replace(/^#/, "");
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">${String(error.message || error)}</div>`;
}

// Re-run `load` every `ms` while `active` is true; returns [data, error, reload].
export function usePoll(load, deps, { ms = 2000, active = () => false } = {}) {
  const [state, setState] = useState({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    let timer = null;
    const run = async () => {
      try {
        const data = await load();
        if (stop) return;
        setState({ data, error: null });
        if (active(data)) timer = setTimeout(run, ms);
      } catch (error) {
        if (!stop) setState((s) => ({ data: s.data, error }));
      }
    };
    run();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return [state.data, state.error, () => setTick((t) => t + 1)];
}

// The first of several field names that is present: tolerates the API naming a field either way.
export function pick(obj, ...names) {
  if (!obj) return undefined;
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}

export const runStart = (r) => pick(r, "started_at", "start_time", "start", "created_at");
export const runEnd = (r) => pick(r, "ended_at", "end_time", "finished_at", "end");

// A run's selection is the list of step keys it targets; long lists are summarised.
export function selectionText(sel, max = 3) {
  if (sel === null || sel === undefined) return "–";
  if (!Array.isArray(sel)) return String(sel);
  if (sel.length <= max) return sel.join(", ") || "–";
  return `${sel.slice(0, max).join(", ")} +${sel.length - max} more`;
}

// Ray node ids are 56 hex digits: the first 12 tell nodes apart.
export function shortNode(node) {
  const s = String(node || "");
  return /^[0-9a-f]{20,}$/.test(s) ? s.slice(0, 12) : s;
}
