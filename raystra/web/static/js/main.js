// The single-page app: who is signed in, the top bar, and which page the hash route shows.
import { render, useEffect, useState } from "../vendor/htm-preact-standalone.module.js";
import { ApiError, api, setCsrfToken, setUnauthorizedHandler } from "./api.js";
import { AssetPage } from "./asset.js";
import { AutomationPage } from "./automation.js";
import { BackfillPage, BackfillsPage } from "./backfills.js";
import { GraphPage } from "./graph.js";
import { LaunchHost, openLaunch } from "./launch.js";
import { RunPage } from "./run.js";
import { RunsPage } from "./runs.js";
import { ErrorBox, can, href, html, useRoute } from "./util.js";

function Login({ onDone, reason }) {
  const [token, setTok] = useState("");
  const [error, setError] = useState(reason ? new Error(reason) : null);
  // The server keeps the session in an HttpOnly cookie (pages and /static/ need it too) and
  // sets the raystra_csrf cookie that POSTs echo in X-CSRF-Token.
  async function submit(ev) {
    ev.preventDefault();
    try {
      const resp = await api.post("/api/login", { token: token.trim() });
      setCsrfToken(resp.csrf_token);
      onDone(await api.get("/api/me"));
    } catch (e) {
      setError(e);
    }
  }
  return html`
    <div class="login-back">
      <form class="login" onSubmit=${submit} aria-label="Sign in">
        <div class="brand big"><span class="logo"></span>raystra</div>
        <p class="muted">This server has access control on. Paste an API token to sign in.</p>
        <label>Token <input type="password" name="token" autocomplete="current-password" value=${token} onInput=${(e) => setTok(e.target.value)} required autofocus /></label>
        <${ErrorBox} error=${error} />
        <button class="primary" type="submit">Sign in</button>
      </form>
    </div>`;
}

function Nav({ route, me, onLogout }) {
  const section = route.parts[0] || "graph";
  const item = (name, label, link) => html`<a class=${section === name || (name === "graph" && section === "assets") ? "on" : ""} href=${link}>${label}</a>`;
  return html`
    <header class="topbar">
      <a class="brand" href="#/"><span class="logo"></span>raystra</a>
      <nav>${item("graph", "Assets", "#/")}${item("runs", "Runs", href("runs"))}${item("backfills", "Backfills", href("backfills"))}${item("automation", "Automation", href("automation"))}</nav>
      <div class="spacer"></div>
      ${can(me, "launch") && html`<button class="primary" onClick=${() => openLaunch({})}>Launch…</button>`}
      ${me && me.auth && html`<span class="who" title=${`role: ${me.role}`}>${me.user} · <b>${me.role}</b></span><button class="ghost" onClick=${onLogout}>Sign out</button>`}
      <a class="docs-link" href="/api/docs" target="_blank" rel="noopener">API</a>
    </header>`;
}

function Page({ route, me }) {
  const [a, b] = route.parts;
  if (!a || a === "graph") return html`<${GraphPage} me=${me} params=${route.params} />`;
  if (a === "assets" && b) return html`<${AssetPage} key=${b} assetKey=${b} me=${me} />`;
  if (a === "runs" && b) return html`<${RunPage} key=${b} runId=${b} me=${me} />`;
  if (a === "runs") return html`<${RunsPage} params=${route.params} me=${me} />`;
  if (a === "backfills" && b) return html`<${BackfillPage} key=${b} id=${b} me=${me} />`;
  if (a === "backfills") return html`<${BackfillsPage} me=${me} />`;
  if (a === "automation") return html`<${AutomationPage} me=${me} />`;
  return html`<div class="page"><h1>Not found</h1><p>No page at <code>${location.hash}</code>. <a href="#/">Back to the asset graph</a>.</p></div>`;
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState(null);
  const [needLogin, setNeedLogin] = useState(null);
  const [error, setError] = useState(null);

  async function loadMe() {
    try {
      const m = await api.get("/api/me");
      setCsrfToken(m.csrf_token);
      if (m.auth && !m.role) setNeedLogin("");
      else {
        setMe(m);
        setNeedLogin(null);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setNeedLogin("");
      else setError(e);
    }
  }
  useEffect(() => {
    setUnauthorizedHandler(() => setNeedLogin("Your session has ended (token revoked or expired): sign in again."));
    loadMe();
  }, []);

  if (needLogin !== null) return html`<${Login} reason=${needLogin} onDone=${(m) => { setMe(m); setNeedLogin(null); }} />`;
  if (error) return html`<div class="page"><${ErrorBox} error=${error} /><p>Is the raystra server running?</p></div>`;
  if (!me) return html`<div class="boot">Loading raystra…</div>`;
  return html`
    <${Nav} route=${route} me=${me} onLogout=${async () => { await api.post("/api/logout").catch(() => {}); location.reload(); }} />
    <main><${Page} route=${route} me=${me} /></main>
    <${LaunchHost} />`;
}

render(html`<${App} />`, document.getElementById("app"));
