"use strict";
// Every value from the server is inserted as text (textContent, text nodes,
// setAttribute), never as markup: route names and error strings are untrusted.

const STATUS_URL = "/observe/api/status";
const LOG_LEVEL_URL = "/observe/log-level";
const REFRESH_MS = 2000;
const FETCH_TIMEOUT_MS = 5000;
const ERROR_RATIO_ALERT = 0.01;
const P99_ALERT_MS = 1000;
const SPARK_SLOTS = 30; // 5 min of 10 s points
const DASH = "–";
const HEALTH = ["up", "down", "draining", "unknown"];
const SYNTHETIC_ROUTES = new Map([
  ["_UNMATCHED", "requests that matched no route"],
  ["_OVERFLOW", "routes beyond the label limit, folded together"],
]);
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
let serverNow = new Date(); // the server's clock at the last render
let lastGood = null;        // client time of the last successful fetch
let held = null;            // data held back while the operator selects text

// ---- DOM helpers ----

// el("td", {class: "num"}, "text", node): strings become text nodes.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value != null && value !== false) node.setAttribute(name, String(value));
  }
  node.append(...children);
  return node;
}

const classes = (...names) => names.filter(Boolean).join(" ");

function fillBody(table, rows, columns) {
  const none = el("tr", {}, el("td", {class: "none", colspan: columns}, "none"));
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [none]));
}

// ---- formatting ----

const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const text = (v) => (v == null || v === "" ? DASH : String(v));
const pillClass = (status, extra) => classes("pill", `s-${HEALTH.includes(status) ? status : "unknown"}`, extra);
const pill = (status, extra) => el("span", {class: pillClass(status, extra)}, text(status));

// Fixed decimals; a tiny non-zero value shows as "<0.01" rather than "0.00".
function fixed(v, digits, unit = "") {
  if (!isNum(v)) return DASH;
  const least = 10 ** -digits;
  if (v > 0 && v < least) return `<${least.toFixed(digits)}${unit}`;
  return v.toFixed(digits) + unit;
}
const fmtRate = (v) => fixed(v, 2);
const fmtPct = (ratio) => (isNum(ratio) ? fixed(ratio * 100, 2, "%") : DASH);
const fmtMs = (v) => fixed(v, 1);

function fmtSpan(seconds) {
  if (!isNum(seconds)) return DASH;
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

// UTC clock time; the date is added when it is not the server's current day.
function fmtTime(iso, millis = false) {
  const t = new Date(iso);
  if (iso == null || Number.isNaN(t.getTime())) return text(iso);
  const s = t.toISOString();
  const clock = s.slice(11, millis ? 23 : 19);
  return s.slice(0, 10) === serverNow.toISOString().slice(0, 10) ? clock : `${s.slice(5, 10)} ${clock}`;
}

// A route template as text, breakable after each "/" so long routes wrap.
function routePath(route) {
  const parts = route == null ? [DASH] : String(route).split(/(?<=\/)/).flatMap((part) => [part, el("wbr")]);
  return el("span", {class: "path"}, ...parts);
}

const secondsUntil = (iso) => (new Date(iso) - serverNow) / 1000;

// ---- header ----

function renderHeader(d) {
  const svc = d.service ?? {};
  $("service-name").textContent = text(svc.name);
  $("service-version").textContent = svc.version ? String(svc.version).replace(/^(?=\d)/, "v") : "";
  const commit = $("service-commit");
  commit.textContent = svc.git_commit ? String(svc.git_commit).slice(0, 12) : "";
  commit.title = svc.git_commit ? `git commit ${svc.git_commit}` : "";
  $("service-attributes").replaceChildren(...Object.entries(svc.attributes ?? {}).map(
    ([k, v]) => el("span", {class: "chip"}, `${k}=`, el("b", {}, text(v)))));

  const up = $("uptime");
  up.textContent = fmtSpan(d.uptime_seconds);
  up.title = d.started_at ? `started ${d.started_at}` : "";
  $("in-flight").textContent = text(d.in_flight);
  const sat = d.saturation;
  $("busy").textContent = sat && sat.busy_ratio != null
    ? `${(sat.busy_ratio * 100).toFixed(0)}% of ${sat.workers}` : "–";
  $("queued").textContent = sat ? text(sat.global_queue_depth) : "–";
  const profile = d.profile;
  $("profile-stat").hidden = !profile;
  if (profile) {
    $("profile").href = profile.flame_graph;
    $("profile").textContent = profile.running ? "running…" : "flame graph, 30 s";
  }

  const status = d.health?.status ?? "unknown";
  const badge = $("health-status");
  badge.textContent = status;
  badge.dataset.status = status;
  badge.className = pillClass(status, "big");
  const down = (d.health?.checks ?? []).filter((c) => c.status === "down").map((c) => c.name);
  $("health-detail").textContent = down.length ? `down: ${down.join(", ")}` : "";
  $("draining").hidden = !d.draining;
  document.title = `${status.toUpperCase()} ${text(svc.name)} · observe`;
  setFavicon(status);
}

// A coloured dot in the tab, so a down service shows among many tabs.
function setFavicon(status) {
  const colour = {up: "#1a7f37", down: "#cf222e", draining: "#bf8700"}[status] ?? "#8c959f";
  const svg = `<svg xmlns="${SVG_NS}" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${colour}"/></svg>`;
  $("favicon").href = `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

// ---- routes ----

function windowCells(w, suffix) {
  return [
    el("td", {class: `num g rate-${suffix}`, title: `requests: ${text(w.requests)}`}, fmtRate(w.rate)),
    el("td", {class: classes("num", `errors-${suffix}`, w.error_ratio > ERROR_RATIO_ALERT && "alert"),
      title: `errors: ${text(w.errors)}`}, fmtPct(w.error_ratio)),
    el("td", {class: `num p50-${suffix}`}, fmtMs(w.p50_ms)),
    el("td", {class: classes("num", `p99-${suffix}`, w.p99_ms > P99_ALERT_MS && "warn")}, fmtMs(w.p99_ms)),
  ];
}

function cacheCell(c) {
  if (!c) return el("td", {class: "num g cache"}, DASH);
  return el("td", {class: classes("num g cache", c.errors > 0 && "warn"),
    title: `hits ${text(c.hits)}, misses ${text(c.misses)}, errors ${text(c.errors)}`}, fmtPct(c.hit_ratio));
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

// Requests/s as a filled area, errors/s as a red line, on one scale.
// Points are right-aligned on a fixed 5 min axis so routes compare at a glance.
function sparkline(requests, errors) {
  const w = 120, h = 22, step = w / (SPARK_SLOTS - 1);
  const max = Math.max(...requests, ...errors, 0) || 1;
  const xy = (v, i, all) => `${(w - (all.length - 1 - i) * step).toFixed(1)},${(h - 1 - (v / max) * (h - 3)).toFixed(1)}`;
  const svg = svgEl("svg", {class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`});
  const title = svgEl("title", {});
  title.textContent = `peak ${fmtRate(Math.max(...requests, 0))} req/s, ${fmtRate(Math.max(...errors, 0))} errors/s`;
  svg.append(title);
  if (requests.length > 1) {
    const left = (w - (requests.length - 1) * step).toFixed(1);
    svg.append(svgEl("polygon", {class: "req", points: `${left},${h} ${requests.map(xy).join(" ")} ${w},${h}`}));
  }
  if (errors.length > 1 && errors.some((v) => v > 0)) {
    svg.append(svgEl("polyline", {class: "err", points: errors.map(xy).join(" ")}));
  }
  return svg;
}

function routeRow(r) {
  const m1 = r["1m"] ?? {};
  const erring = m1.error_ratio > ERROR_RATIO_ALERT;
  const slow = !erring && m1.p99_ms > P99_ALERT_MS;
  const synthetic = SYNTHETIC_ROUTES.get(r.route);
  return el("tr", {class: classes("route", erring && "bad", slow && "slow", synthetic && "synthetic"), "data-route": r.route},
    el("td", {class: "route", title: synthetic ?? null}, routePath(r.route)),
    ...windowCells(m1, "1m"),
    ...windowCells(r["5m"] ?? {}, "5m"),
    cacheCell(r.cache),
    el("td", {class: "spark"}, sparkline(r.spark ?? [], r.spark_errors ?? [])));
}

function renderRoutes(routes) {
  fillBody($("routes"), routes.map(routeRow), 11);
}

// ---- failed and slowest requests ----

const OK_OUTCOMES = ["ok", "success"];

// "postgres select 3.2 ms", with the outcome named (and red) only when it is not ok.
function dependencySummary(deps) {
  if (!deps.length) return [DASH];
  return deps.map((d) => {
    const ok = OK_OUTCOMES.includes(d.outcome);
    const words = [d.dependency, d.operation, `${fmtMs(d.duration_ms)} ms`, ok ? null : d.outcome];
    return el("span", {class: classes("dep", !ok && "failed"), title: `outcome: ${text(d.outcome)}`},
      words.filter((w) => w != null).join(" "));
  });
}

function requestRow(r) {
  const statusClass = isNum(r.status) && r.status >= 400 ? `st-${Math.floor(r.status / 100)}` : null;
  return el("tr", {class: "request", "data-request-id": r.request_id ?? "", "data-trace-id": r.trace_id ?? ""},
    el("td", {class: "time mono", title: r.time ?? null}, fmtTime(r.time, true)),
    el("td", {class: "method"}, text(r.method)),
    el("td", {class: "route"}, routePath(r.route)),
    el("td", {class: classes("num status", statusClass)}, text(r.status)),
    el("td", {class: "error-type"}, text(r.error_type)),
    el("td", {class: classes("num duration", r.duration_ms > P99_ALERT_MS && "warn")}, fmtMs(r.duration_ms)),
    el("td", {class: "request-id mono"}, text(r.request_id)),
    el("td", {class: "trace-id mono"}, text(r.trace_id)),
    el("td", {class: "deps wrap"}, ...dependencySummary(r.dependencies ?? [])));
}

function renderRequests(name, list) {
  fillBody($(name), list.map(requestRow), 9);
  $(`${name}-count`).textContent = `${list.length} shown`;
}

// ---- health checks, flags, drops ----

function checkRow(c) {
  const ago = c.checked_at ? ` (${fmtSpan(-secondsUntil(c.checked_at))} ago)` : "";
  return el("tr", {class: "check", "data-check": c.name},
    el("td", {class: "name"}, text(c.name)),
    el("td", {class: "status"}, pill(c.status, "small")),
    el("td", {class: "num latency"}, fmtMs(c.latency_ms)),
    el("td", {class: classes("last-error wrap", c.last_error && "alert")}, text(c.last_error)),
    el("td", {class: "checked-at", title: c.checked_at ?? null}, fmtTime(c.checked_at) + ago));
}

function renderChecks(checks) {
  fillBody($("checks"), checks.map(checkRow), 5);
  const down = checks.filter((c) => c.status === "down").length;
  $("checks-count").textContent = checks.length ? `${down} of ${checks.length} down` : "";
}

function flagRow(f) {
  return el("tr", {class: "flag", "data-flag": f.name},
    el("td", {class: "name mono"}, text(f.name)),
    el("td", {class: "state mono"}, text(f.state)),
    el("td", {class: "states mono"}, ...(f.states ?? []).map(
      (s) => el("span", {class: s === f.state ? "current" : null}, text(s)))));
}

function renderFlags(flags) {
  fillBody($("flags"), flags.map(flagRow), 3);
  $("flags-count").textContent = `${flags.length}`;
}

function renderDrops(drops) {
  for (const row of $("drops").querySelectorAll("tr.drop")) {
    const n = drops[row.dataset.drop];
    row.querySelector("td.count").textContent = text(n);
    row.classList.toggle("nonzero", n > 0);
  }
}

// ---- log level ----

function renderLogLevel(ll) {
  $("log-directives").textContent = text(ll.directives);
  $("log-default").textContent = text(ll.default);
  $("log-revert").textContent = ll.revert_at
    ? `${fmtTime(ll.revert_at)} UTC (in ${fmtSpan(secondsUntil(ll.revert_at))})`
    : `${DASH} (default in force)`;
  $("log-form").hidden = !ll.changeable;
  $("log-unchangeable").hidden = Boolean(ll.changeable);
  const input = $("log-input");
  if (!input.value && document.activeElement !== input && ll.directives) input.value = ll.directives;
}

function showLogResult(message, kind) {
  const out = $("log-result");
  out.textContent = message;
  out.className = kind;
}

// PUT the new directives; the token lives only in its input, never in storage.
async function submitLogLevel(event) {
  event.preventDefault();
  const headers = {"Content-Type": "application/json"};
  const token = $("log-token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  const body = JSON.stringify({
    directives: $("log-input").value.trim(),
    revert_after: $("log-revert-after").value.trim() || "15m",
  });
  const button = $("log-submit");
  button.disabled = true;
  showLogResult("sending…", "");
  try {
    const res = await fetch(LOG_LEVEL_URL, {method: "PUT", headers, body, cache: "no-store"});
    const answer = await res.json().catch(() => ({}));
    if (res.ok) {
      renderLogLevel(answer);
      showLogResult(`applied: ${text(answer.directives)}`, "ok");
    } else {
      showLogResult(`${res.status}: ${answer.error ?? res.statusText}`, "err");
    }
  } catch (err) {
    showLogResult(`request failed: ${err.message}`, "err");
  } finally {
    button.disabled = false;
  }
}

// ---- refresh loop ----

function render(d) {
  const now = new Date(d.now);
  serverNow = Number.isNaN(now.getTime()) ? new Date() : now;
  renderHeader(d);
  renderRoutes(d.routes ?? []);
  renderRequests("failed", d.failed ?? []);
  renderRequests("slowest", d.slowest ?? []);
  renderChecks(d.health?.checks ?? []);
  renderFlags(d.flags ?? []);
  renderLogLevel(d.log_level ?? {});
  renderDrops(d.drops ?? {});
  showUpdated(fmtTime(d.now));
  document.body.dataset.loaded = "1";
}

function showUpdated(label) {
  const updated = $("updated");
  updated.textContent = label;
  updated.classList.remove("stale");
}

// Re-rendering would wipe a selection (say, a trace id being copied), so new
// data waits until the selection inside a table ends.
function selectingInTable() {
  const sel = document.getSelection();
  if (!sel || sel.isCollapsed || !sel.anchorNode) return false;
  const node = sel.anchorNode.nodeType === Node.ELEMENT_NODE ? sel.anchorNode : sel.anchorNode.parentElement;
  return Boolean(node?.closest("#content table"));
}

function show(data) {
  if (selectingInTable()) {
    held = data;
    showUpdated(`${fmtTime(data.now)} · paused while text is selected`);
    return;
  }
  held = null;
  render(data);
}

function showError(message) {
  const banner = $("error-banner");
  banner.hidden = message == null;
  if (message == null) return;
  const age = lastGood ? `showing data from ${fmtSpan((Date.now() - lastGood) / 1000)} ago` : "no data yet";
  banner.textContent = `Refresh failed (${message}): ${age}; retrying every ${REFRESH_MS / 1000} s.`;
  $("updated").classList.add("stale");
}

async function refresh() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(STATUS_URL, {cache: "no-store", signal: abort.signal, headers: {Accept: "application/json"}});
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    show(await res.json());
    lastGood = Date.now();
    showError(null);
  } catch (err) {
    showError(err.name === "AbortError" ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : err.message);
  } finally {
    clearTimeout(timer);
    setTimeout(refresh, REFRESH_MS);
  }
}

document.addEventListener("selectionchange", () => {
  if (held && !selectingInTable()) show(held);
});
$("log-form").addEventListener("submit", submitLogLevel);
refresh();
