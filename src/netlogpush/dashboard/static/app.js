// netlogpush Network Analytics dashboard (spec §7). Plain ES module, no build step, no framework;
// charts with the Plotly bundle our server ships (no CDN: the page must work offline).
//
// The whole view lives in `state`, and `state` lives in the URL (history.replaceState), so a
// view can be shared and a reload restores it. Every panel is refilled from the JSON routes of
// the dashboard backend (docs/dashboard-contract) on each change and, for relative ranges,
// every 5 s while "Live" is on. Displayed numbers are formatted for people; the exact number
// is kept in the element's data-value so tests (and copy/paste) can read it.

const API = "/dashboard/api";
const RELATIVE = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
const RANGE_WORDS = {
  "15m": "15 minutes", "1h": "hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days", "30d": "30 days",
};
const TABS = ["all", "dosd", "flowtrackd", "magic-firewall"];
const TOP_PANELS = ["source_asn", "source_country", "destination_port"];
// Dimensions that take integers; the server's meta.int_dimensions replaces this at load.
let INT_DIMS = new Set(["source_asn", "destination_port", "source_port", "packet_size"]);
const LIVE_MS = 5000;
const SAMPLE_PAGE = 20;
const ACTION_COLORS = { drop: "#e5484d", pass: "#2f9e67" };
const PALETTE = ["#3e63dd", "#f76b15", "#12a594", "#d6409f", "#8e4ec6", "#ffb224", "#0090ff",
  "#7d8f14", "#e54666", "#5b5bd6"];
// Record fields that have a dashboard dimension: their values in an expanded sample filter on click.
const FIELD_DIMS = {
  IPSourceAddress: "source_ip", SourcePort: "source_port", IPDestinationAddress: "destination_ip",
  DestinationPort: "destination_port", IPDestinationSubnet: "destination_prefix",
  SourceASN: "source_asn", SourceCountry: "source_country", IPProtocolName: "protocol",
  TCPFlagsString: "tcp_flag", ColoCode: "colo", ColoCountry: "colo_country",
  IPTotalLengthBuckets: "packet_size", MitigationSystem: "mitigation_system", Direction: "direction",
  AttackVector: "attack_vector", RuleName: "rule", MitigationReason: "mitigation_reason",
  ProtocolState: "protocol_state",
};

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// --- formatting ------------------------------------------------------------------------------

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const SI = ["", "k", "M", "G", "T", "P", "E"];

export function fmtInt(n) {
  return intFmt.format(n);
}

/** Three significant digits and an SI prefix: 1234567 -> "1.23 M" + unit; below 1000 the
 * number itself ("850 pps", "2.5 pps"). */
export function fmtSI(x, unit) {
  if (!Number.isFinite(x)) return "–";
  let v = Math.abs(x);
  let i = 0;
  while (v >= 1000 && i < SI.length - 1) { v /= 1000; i++; }
  const digits = (n) => (n >= 100 ? 0 : n >= 10 ? 1 : 2);
  let text = i === 0 && Number.isInteger(v) ? String(v) : v.toFixed(digits(v));
  if (Number(text) >= 1000 && i < SI.length - 1) { i++; text = (Number(text) / 1000).toFixed(2); }
  if (i === 0 && !Number.isInteger(v)) text = String(Number(text)); // "2.50 pps" -> "2.5 pps"
  return `${x < 0 ? "-" : ""}${text} ${SI[i]}${unit}`;
}

export function fmtPct(x) {
  const digits = x > 99.9 && x < 100 ? 2 : 1;
  return `${x.toFixed(digits)} %`;
}

function fmtDuration(ns) {
  let s = Math.round(ns / 1e9);
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  return h ? `${h} h ${m} min` : `${m} min ${s} s`;
}

/** "2026-01-02T10:11:12.123456789Z" -> "10:11:12" (UTC); with the date when not today. */
function fmtTime(rfc3339) {
  const day = rfc3339.slice(0, 10);
  const time = rfc3339.slice(11, 19);
  return day === new Date().toISOString().slice(0, 10) ? time : `${day.slice(5)} ${time}`;
}

function fmtChange(pct) {
  if (pct === null || pct === undefined) return { text: "no data in the previous period", cls: "flat" };
  if (Math.abs(pct) < 0.05) return { text: "→ 0.0 % vs previous period", cls: "flat" };
  const arrow = pct > 0 ? "▲" : "▼";
  return { text: `${arrow} ${Math.abs(pct).toFixed(1)} % vs previous period`, cls: pct > 0 ? "up" : "down" };
}

function metricUnit(metric) {
  return metric === "bits" ? { rate: "bps", total: "bits", si: "bit" } : { rate: "pps", total: "packets", si: "" };
}

function fmtMetric(value, metric) {
  return metric === "bits" ? fmtSI(value, "bit") : fmtInt(value);
}

// --- state <-> URL ---------------------------------------------------------------------------

const state = {
  range: "24h", start: null, end: null, tab: "all", dim: "action", metric: "packets",
  counting: "outcome", filters: [], attackId: null, live: true, sampleOffset: 0,
};
let meta = { dimensions: [], tabs: [], rules_api: false, now_ns: Date.now() * 1e6 };
let clockSkewMs = 0; // server now - browser now, so relative ranges line up with the server's

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.start = p.get("start");
  state.end = p.get("end");
  const range = p.get("range");
  state.range = state.start && state.end ? "custom" : (range in RELATIVE ? range : "24h");
  state.tab = TABS.includes(p.get("tab")) ? p.get("tab") : "all";
  state.dim = p.get("dim") || "action";
  state.metric = p.get("metric") === "bits" ? "bits" : "packets";
  state.counting = p.get("counting") === "verdict" ? "verdict" : "outcome";
  state.filters = p.getAll("f").map(parseFilter).filter(Boolean);
  state.attackId = p.get("attack_id") || null;
  state.live = p.get("live") !== "0";
}

function parseFilter(text) {
  const exclude = text.startsWith("!");
  const body = exclude ? text.slice(1) : text;
  const i = body.indexOf(":"); // values may hold colons (IPv6): split at the first one only
  if (i <= 0) return null;
  return { dim: body.slice(0, i), value: body.slice(i + 1), exclude };
}

function filterParam(f) {
  return `${f.exclude ? "!" : ""}${f.dim}:${f.value}`;
}

/** The view parameters every data route takes (and the page's own URL carries). */
function viewParams() {
  const p = new URLSearchParams();
  if (state.range === "custom") {
    p.set("start", state.start);
    p.set("end", state.end);
  } else {
    p.set("range", state.range);
  }
  p.set("tab", state.tab);
  if (state.counting !== "outcome") p.set("counting", state.counting);
  for (const f of state.filters) p.append("f", filterParam(f));
  return p;
}

function writeUrl() {
  const p = viewParams();
  p.set("dim", state.dim);
  p.set("metric", state.metric);
  if (state.attackId) p.set("attack_id", state.attackId);
  if (!state.live) p.set("live", "0");
  const url = `${location.pathname}?${p.toString()}`;
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

function api(path, extra = {}) {
  const p = viewParams();
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  return `${API}/${path}?${p.toString()}`;
}

// --- fetching, errors ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, url) {
    super(message);
    this.status = status;
    this.url = url;
  }
}

function errorText(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  if (typeof body.error === "string") return body.error;
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg ?? JSON.stringify(d)).join("; ");
  if (Array.isArray(body.errors) && body.errors.length) {
    return body.errors.map((e) => (e.code ? `${e.code}: ${e.message}` : e.message)).join("; ");
  }
  return fallback;
}

async function getJSON(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, ...options });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `the server did not answer (${err.message})`, url);
  }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: shown as text */ }
  if (!response.ok) {
    throw new ApiError(response.status, errorText(body, text || response.statusText), url);
  }
  return body;
}

function showError(err) {
  const path = err.url ? new URL(err.url, location.href).pathname : "";
  const status = err.status ? ` answered ${err.status}` : "";
  $("#error-text").textContent = `${path}${status}: ${err.message}`;
  $("#error-banner").hidden = false;
}

function clearError() {
  $("#error-banner").hidden = true;
  $("#error-text").textContent = "";
}

// --- small DOM helpers -----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-") || k === "title" || k === "colspan" || k === "tabindex" || k === "role" ||
             k === "aria-label" || k === "type" || k === "style") node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

function setValue(sel, value, text) {
  const node = $(sel);
  node.dataset.value = String(value);
  node.textContent = text;
}

function emptyRow(tbody, columns, text) {
  tbody.replaceChildren(el("tr", { class: "empty-row" }, el("td", { colspan: columns, class: "empty", text })));
}

function dimLabel(key) {
  return meta.dimensions.find((d) => d.key === key)?.label ?? key;
}

function valueLabel(dim, value) {
  if (value === "") return "(none)";
  if (dim === "source_asn") return value === "0" ? "(unknown)" : `AS${value}`;
  return value;
}

// --- filters ---------------------------------------------------------------------------------

function addFilter(dim, value, exclude) {
  value = String(value).trim();
  if (dim === "source_asn") value = value.replace(/^AS/i, "");
  if (INT_DIMS.has(dim) && !/^\d+$/.test(value)) {
    showError(new ApiError(0, `${dimLabel(dim)} takes a whole number, not "${value}"`, null));
    return false;
  }
  // An include and an exclude of the same value contradict each other: the newer one wins.
  state.filters = state.filters.filter((f) => !(f.dim === dim && f.value === value));
  state.filters.push({ dim, value, exclude: Boolean(exclude) });
  changed({ resetSamples: true });
  return true;
}

function removeFilter(index) {
  state.filters.splice(index, 1);
  changed({ resetSamples: true });
}

function renderChips() {
  const box = $("#chips");
  const chips = state.filters.map((f, i) => {
    const remove = el("button", { type: "button", title: "Remove this filter", "aria-label": "Remove filter", text: "×" });
    remove.addEventListener("click", () => removeFilter(i));
    return el("span", {
      class: `filter-chip ${f.exclude ? "exclude" : "include"}`,
      "data-dim": f.dim, "data-value": f.value, "data-exclude": f.exclude ? "1" : "0",
    }, el("b", { text: dimLabel(f.dim) }), ` ${f.exclude ? "is not" : "is"} `,
    el("span", { class: "v", text: valueLabel(f.dim, f.value) }), remove);
  });
  $("#no-filters").hidden = chips.length > 0;
  $$(".filter-chip", box).forEach((c) => c.remove());
  box.append(...chips);
}

/** A click on a top-N row, legend entry or field: include; with Alt or Shift: exclude. */
function clickFilter(ev, dim, value) {
  ev.preventDefault?.();
  addFilter(dim, value, ev.altKey || ev.shiftKey);
}

// --- refresh cycle ---------------------------------------------------------------------------

let inflight = null;
let refreshes = 0;
let lastAttacks = [];

function changed({ resetSamples = false } = {}) {
  if (resetSamples) state.sampleOffset = 0;
  syncControls();
  writeUrl();
  refresh();
}

async function refresh({ quiet = false } = {}) {
  if (inflight) inflight.abort();
  const ctl = new AbortController();
  inflight = ctl;
  if (!quiet) document.body.dataset.state = "loading";
  const opts = { signal: ctl.signal };
  const jobs = [
    getJSON(api("summary"), opts).then(renderSummary),
    getJSON(api("timeseries", { dim: state.dim, metric: state.metric }), opts).then(renderChart),
    getJSON(api("attacks"), opts).then(renderAttacks),
    ...TOP_PANELS.map((by) => getJSON(api("top", { by, n: 10, metric: state.metric }), opts)
      .then((d) => renderTop(by, d))),
    getJSON(api("rules"), opts).then(renderRules),
    getJSON(api("atp"), opts).then(renderAtp),
    loadSamples(opts),
  ];
  const results = await Promise.allSettled(jobs);
  if (ctl.signal.aborted) return; // a newer refresh owns the page now
  inflight = null;
  const failed = results.find((r) => r.status === "rejected" && r.reason?.name !== "AbortError");
  if (failed) {
    showError(failed.reason instanceof ApiError ? failed.reason : new ApiError(0, String(failed.reason), null));
    document.body.dataset.state = "error";
  } else {
    clearError();
    document.body.dataset.state = "ready";
  }
  refreshes += 1;
  document.body.dataset.refreshes = String(refreshes);
  $("#updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

// --- summary ---------------------------------------------------------------------------------

function renderSummary(s) {
  setValue("#sum-attacks", s.attacks, fmtInt(s.attacks));
  setValue("#sum-mitigated", s.mitigated_pct, fmtPct(s.mitigated_pct));
  $("#sum-mitigated-note").textContent = s.packets
    ? `${fmtInt(s.dropped_packets)} of ${fmtInt(s.packets)} packets dropped`
    : "no traffic in this range";
  setValue("#sum-peak-pps", s.largest_attack_pps, fmtSI(s.largest_attack_pps, "pps"));
  setValue("#sum-peak-bps", s.largest_attack_bps, fmtSI(s.largest_attack_bps, "bps"));
  const top = $("#sum-top-source");
  setValue("#sum-top-source", s.top_source, s.top_source || "none");
  top.classList.toggle("clickable", Boolean(s.top_source));
  top.title = s.top_source ? "Click to filter on this source (Alt/Shift: exclude)" : "";
  setValue("#sum-packets", s.packets, fmtInt(s.packets));
  setValue("#sum-dropped", s.dropped_packets, fmtInt(s.dropped_packets));
  setValue("#sum-dropped-bytes", s.dropped_bytes, fmtSI(s.dropped_bytes, "B"));
  for (const key of ["attacks", "packets", "dropped_packets", "dropped_bytes"]) {
    const node = $(`#chg-${key}`);
    const pct = s.change_pct ? s.change_pct[key] : null;
    let { text, cls } = fmtChange(pct);
    if ((pct === null || pct === undefined) && s.previous?.packets > 0) {
      // The previous period had traffic, just none of this kind.
      text = s[key] > 0 ? "▲ new: none in the previous period" : "none in this or the previous period";
      cls = s[key] > 0 ? "up" : "flat";
    }
    node.textContent = text;
    node.dataset.value = pct === null || pct === undefined ? "" : String(pct);
    // More attacks or more dropped traffic is bad news; more traffic is just more traffic.
    node.className = `change ${cls}${key === "packets" ? " neutral" : ""}`;
    const prev = s.previous ? s.previous[key] : undefined;
    node.title = prev === undefined ? "" : `previous ${RANGE_WORDS[state.range] ?? "period"}: ${fmtInt(prev)}`;
  }
}

// --- time series -----------------------------------------------------------------------------

let chartReady = false;

function colorFor(key, i) {
  if (state.dim === "action" && ACTION_COLORS[key]) return ACTION_COLORS[key];
  if (key === "Other") return "#9aa3ad";
  return PALETTE[i % PALETTE.length];
}

function viewSpanMs() {
  if (state.range === "custom") return [toMs(state.start), toMs(state.end)];
  const now = Date.now() + clockSkewMs;
  return [now - RELATIVE[state.range] * 1000, now];
}

function toMs(value) {
  if (/^\d+$/.test(value)) return Number(BigInt(value) / 1000000n); // integer ns
  return Date.parse(value.replace(/(\.\d{3})\d+/, "$1")); // RFC 3339: Date.parse takes ms
}

/** A date-axis value from Plotly: ms, or "2026-01-02 10:11:12.345" in UTC (our x values are
 * epoch ms, which Plotly shows as UTC), possibly shortened ("2026-01-02 10:11"). */
function plotlyMs(v) {
  if (typeof v === "number") return v;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?$/.exec(String(v));
  if (!m) return NaN;
  const [, y, mo, d, h = 0, mi = 0, sec = 0, frac = "0"] = m;
  return Date.UTC(+y, mo - 1, +d, +h, +mi, +sec) + Math.round(parseFloat(frac) * 1000);
}

function renderChart(ts) {
  const node = $("#timeseries");
  const unit = metricUnit(ts.metric);
  const tabLabel = meta.tabs.find((t) => t.key === state.tab)?.label ?? "";
  $("#chart-title").textContent = `${ts.metric === "bits" ? "Bits" : "Packets"} summary · ${tabLabel}`;
  const empty = ts.series.length === 0;
  $("#timeseries-empty").hidden = !empty;
  node.dataset.series = String(ts.series.length);
  node.dataset.bucket = String(ts.bucket_s);
  // Every series on one grid of buckets, zeros where a key had nothing, so the stack is exact
  // and a quiet bucket drops to zero instead of being interpolated over.
  const step = ts.bucket_s * 1000;
  const all = ts.series.flatMap((s) => s.t);
  const grid = [];
  if (all.length) {
    const lo = Math.min(...all), hi = Math.max(...all);
    for (let t = lo; t <= hi; t += step) grid.push(t);
  }
  const traces = ts.series.map((s, i) => {
    const byT = new Map(s.t.map((t, j) => [t, j]));
    const rate = grid.map((t) => (byT.has(t) ? s.rate[byT.get(t)] : 0));
    const value = grid.map((t) => (byT.has(t) ? s.value[byT.get(t)] : 0));
    return {
      type: "scatter", mode: "lines", stackgroup: "one", name: valueLabel(ts.dim, s.key), meta: s.key,
      x: grid, y: rate, line: { width: 1, color: colorFor(s.key, i) },
      customdata: rate.map((r, j) => [fmtSI(r, unit.rate), ts.metric === "bits" ? fmtSI(value[j], "bit") : fmtInt(value[j])]),
      hovertemplate: `%{fullData.name}: <b>%{customdata[0]}</b> (%{customdata[1]} ${ts.metric === "bits" ? "" : "packets "}in ${ts.bucket_s} s)<extra></extra>`,
    };
  });
  // The server's window (relative ranges end on a bucket edge); the browser's clock otherwise.
  const [x0, x1] = ts.start_ns !== undefined ? [ts.start_ns / 1e6, ts.end_ns / 1e6] : viewSpanMs();
  const shapes = [];
  const drilled = lastAttacks.find((a) => a.attack_id === state.attackId);
  if (drilled) {
    shapes.push({
      type: "rect", xref: "x", yref: "paper", x0: drilled.start_ns / 1e6, x1: Math.max(drilled.end_ns / 1e6, drilled.start_ns / 1e6 + step),
      y0: 0, y1: 1, fillcolor: "rgba(229,72,77,0.10)", line: { width: 1, color: "rgba(229,72,77,0.6)", dash: "dot" },
    });
  }
  const layout = {
    margin: { l: 64, r: 16, t: 8, b: 36 }, height: 320, hovermode: "x unified",
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "Inter, system-ui, sans-serif", size: 12, color: "#3a4451" },
    xaxis: { type: "date", range: [x0, x1], showgrid: false, hoverformat: "%Y-%m-%d %H:%M:%S UTC",
      ticklabeloverflow: "hide past domain" },
    yaxis: { tickformat: "~s", ticksuffix: ` ${unit.rate}`, rangemode: "tozero",
      fixedrange: true, gridcolor: "#e6e9ee" },
    legend: { orientation: "h", y: -0.16, itemclick: false, itemdoubleclick: false },
    showlegend: !empty, shapes,
    uirevision: `${state.tab}|${state.dim}|${state.metric}|${state.range}|${state.start}`,
  };
  const config = { displaylogo: false, responsive: true, showTips: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"] };
  window.Plotly.react(node, traces, layout, config);
  if (!chartReady) {
    chartReady = true;
    node.on("plotly_legendclick", (ev) => {
      const key = ev.data[ev.curveNumber]?.meta;
      if (key !== undefined && key !== "Other") clickFilter(ev.event ?? {}, state.dim, key);
      return false; // we filter instead of hiding the trace
    });
    node.on("plotly_legenddoubleclick", () => false);
    node.on("plotly_relayout", (ev) => {
      // A drag-zoom on the chart becomes an absolute range, like picking one by hand.
      const a = ev["xaxis.range[0]"] ?? ev["xaxis.range"]?.[0];
      const b = ev["xaxis.range[1]"] ?? ev["xaxis.range"]?.[1];
      const [ms0, ms1] = [plotlyMs(a), plotlyMs(b)];
      if (!Number.isFinite(ms0) || !Number.isFinite(ms1) || ms1 <= ms0) return;
      state.start = new Date(ms0).toISOString();
      state.end = new Date(ms1).toISOString();
      state.range = "custom";
      changed({ resetSamples: true });
    });
  }
}

// --- attacks ---------------------------------------------------------------------------------

function renderAttacks(d) {
  lastAttacks = d.attacks;
  const tbody = $("#attacks tbody");
  if (!d.attacks.length) {
    emptyRow(tbody, 9, "No attacks in this range.");
    renderAttackChip();
    return;
  }
  tbody.replaceChildren(...d.attacks.map((a) => {
    const tr = el("tr", {
      class: `attack clickable${a.attack_id === state.attackId ? " selected" : ""}`,
      "data-attack-id": a.attack_id, tabindex: 0, title: `Attack ${a.attack_id}: show its samples`,
    },
    el("td", { text: fmtTime(a.start), title: a.start, "data-value": a.start_ns }),
    el("td", { text: fmtTime(a.end), title: a.end, "data-value": a.end_ns }),
    el("td", { text: fmtDuration(a.end_ns - a.start_ns), "data-value": a.end_ns - a.start_ns }),
    el("td", { class: "vector", text: a.vector || "–" }),
    el("td", { class: "mono", text: a.target || "–" }),
    el("td", { class: "num", text: fmtSI(a.peak_pps, "pps"), "data-value": a.peak_pps }),
    el("td", { class: "num", text: fmtSI(a.peak_bps, "bps"), "data-value": a.peak_bps }),
    el("td", { class: "num", text: fmtInt(a.packets), "data-value": a.packets }),
    el("td", { class: "mono small", text: a.top_sources.join(", ") || "–" }));
    const open = () => setAttack(a.attack_id === state.attackId ? null : a.attack_id);
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return tr;
  }));
  renderAttackChip();
}

function setAttack(id) {
  state.attackId = id;
  state.sampleOffset = 0;
  $$("#attacks tr.attack").forEach((tr) => tr.classList.toggle("selected", tr.dataset.attackId === id));
  writeUrl();
  renderAttackChip();
  refresh(); // the chart marks the attack, the samples narrow to it
  if (id) $(".samples-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

function renderAttackChip() {
  const slot = $("#attack-chip-slot");
  if (!state.attackId) { slot.replaceChildren(); return; }
  const a = lastAttacks.find((x) => x.attack_id === state.attackId);
  const remove = el("button", { type: "button", title: "Show all samples again", "aria-label": "Remove attack filter", text: "×" });
  remove.addEventListener("click", () => setAttack(null));
  slot.replaceChildren(el("span", { id: "attack-chip", class: "chip attack-chip", "data-attack-id": state.attackId },
    "Attack ", el("b", { text: a ? `${a.vector || "?"} → ${a.target || "?"}` : state.attackId.slice(0, 12) }),
    el("span", { class: "mono small", text: ` ${state.attackId.slice(0, 8)}…` }), remove));
}

// --- top-N panels ----------------------------------------------------------------------------

function filterButtons(dim, value) {
  const inc = el("button", { type: "button", class: "mini", title: "Filter: only this", "aria-label": "Filter", text: "+" });
  const exc = el("button", { type: "button", class: "mini", title: "Exclude this", "aria-label": "Exclude", text: "−" });
  inc.addEventListener("click", (e) => { e.stopPropagation(); addFilter(dim, value, false); });
  exc.addEventListener("click", (e) => { e.stopPropagation(); addFilter(dim, value, true); });
  return el("td", { class: "tools" }, inc, exc);
}

function barStyle(value, max) {
  const pct = max > 0 ? Math.max(1, Math.round((value / max) * 100)) : 0;
  return `--bar:${pct}%`;
}

function topRow(dim, key, label, cells, value, max) {
  const tr = el("tr", {
    class: "top-row clickable", "data-key": key, tabindex: 0, style: barStyle(value, max),
    title: "Click to filter, Alt/Shift-click to exclude",
  }, ...cells, filterButtons(dim, key));
  tr.addEventListener("click", (e) => clickFilter(e, dim, key));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter") clickFilter(e, dim, key); });
  return tr;
}

function renderTop(by, d) {
  const tbody = $(`#top-${by} tbody`);
  if (!d.rows.length) { emptyRow(tbody, 3, "No samples in this range."); return; }
  const max = Math.max(...d.rows.map((r) => r.value));
  tbody.replaceChildren(...d.rows.map((r) => topRow(by, r.key, valueLabel(by, r.key), [
    el("td", { class: "label bar", text: valueLabel(by, r.key) }),
    el("td", { class: "num", text: fmtMetric(r.value, state.metric), "data-value": r.value }),
  ], r.value, max)));
}

function renderRules(d) {
  const tbody = $("#rules tbody");
  if (!d.rows.length) { emptyRow(tbody, 4, "No rule matched in this range."); return; }
  const max = Math.max(...d.rows.map((r) => r.packets));
  tbody.replaceChildren(...d.rows.map((r) => {
    const cells = [
      el("td", { class: "small", text: r.system }),
      // A firewall rule's name is not in the logs (only its RuleID): show the id then.
      el("td", { class: `label bar${r.rule_name ? "" : " mono small"}`, text: r.rule_name || `RuleID ${r.rule_id}`,
        title: `RuleID ${r.rule_id}`, "data-rule-id": r.rule_id }),
      el("td", { class: "num", text: fmtInt(r.packets), "data-value": r.packets }),
    ];
    // The "rule" dimension is RuleName: a rule without a name cannot be filtered on.
    if (r.rule_name) return topRow("rule", r.rule_name, r.rule_name, cells, r.packets, max);
    return el("tr", { class: "top-row", style: barStyle(r.packets, max) }, ...cells, el("td"));
  }));
}

function renderAtp(d) {
  const tbody = $("#atp tbody");
  if (!d.rows.length) { emptyRow(tbody, 4, "No TCP protection drops in this range."); return; }
  const max = Math.max(...d.rows.map((r) => r.packets));
  tbody.replaceChildren(...d.rows.map((r) => {
    const state_ = el("td", { class: "small clickable-cell", text: r.state || "–", title: "Filter on this protocol state" });
    state_.addEventListener("click", (e) => { e.stopPropagation(); clickFilter(e, "protocol_state", r.state); });
    return topRow("mitigation_reason", r.reason, r.reason, [
      el("td", { class: "label bar", text: r.reason }), state_,
      el("td", { class: "num", text: fmtInt(r.packets), "data-value": r.packets }),
    ], r.packets, max);
  }));
}

// --- sample log ------------------------------------------------------------------------------

const details = new Map(); // sample id -> fields, so a live refresh keeps rows expanded
const expanded = new Set();

async function loadSamples(opts) {
  const extra = { limit: SAMPLE_PAGE, offset: state.sampleOffset };
  if (state.attackId) extra.attack_id = state.attackId;
  const d = await getJSON(api("samples", extra), opts);
  renderSamples(d);
}

function hostPort(addr, port) {
  if (!addr) return "–";
  if (!port) return addr;
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function renderSamples(d) {
  const tbody = $("#samples tbody");
  const table = $("#samples");
  table.dataset.total = String(d.total);
  const first = d.rows.length ? state.sampleOffset + 1 : 0;
  const last = state.sampleOffset + d.rows.length;
  $("#samples-count").textContent = d.total ? `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(d.total)}` : "";
  $("#samples-prev").disabled = state.sampleOffset === 0;
  $("#samples-next").disabled = last >= d.total;
  if (!d.rows.length) {
    emptyRow(tbody, 10, state.attackId ? "No samples of this attack in this range." : "No samples in this range.");
    return;
  }
  const rows = [];
  for (const r of d.rows) {
    const tr = el("tr", { class: `sample clickable ${r.Outcome === "drop" ? "dropped" : ""}`, "data-id": r.id, tabindex: 0,
      title: "Click to show every field" },
    el("td", { class: "mono small", text: r.Datetime.slice(11, 23), title: r.Datetime }),
    el("td", { text: r.MitigationSystem }),
    el("td", {}, el("span", { class: `pill ${r.Outcome}`, text: r.Outcome }),
      r.Verdict !== r.Outcome ? el("span", { class: "small muted", text: ` verdict ${r.Verdict}` }) : ""),
    el("td", { text: r.IPProtocolName }),
    el("td", { class: "mono", text: hostPort(r.IPSourceAddress, r.SourcePort) }),
    el("td", { class: "mono", text: hostPort(r.IPDestinationAddress, r.DestinationPort) }),
    el("td", { class: "num", text: fmtInt(r.IPTotalLength), "data-value": r.IPTotalLength }),
    el("td", { class: "num", text: fmtInt(r.SampleInterval), "data-value": r.SampleInterval }),
    el("td", { text: [r.RuleName, r.AttackVector].filter(Boolean).filter((v, i, a) => a.indexOf(v) === i).join(" · ") || "–" }),
    el("td", { class: "small", text: r.MitigationReason || "–" }));
    const toggle = () => toggleSample(r.id, tr);
    tr.addEventListener("click", toggle);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
    rows.push(tr);
    if (expanded.has(r.id) && details.has(r.id)) {
      tr.classList.add("open");
      rows.push(detailRow(r.id, details.get(r.id)));
    }
  }
  tbody.replaceChildren(...rows);
}

async function toggleSample(id, tr) {
  const next = tr.nextElementSibling;
  if (next && next.classList.contains("sample-detail")) {
    next.remove();
    tr.classList.remove("open");
    expanded.delete(id);
    return;
  }
  try {
    if (!details.has(id)) {
      const d = await getJSON(`${API}/samples/${encodeURIComponent(id)}`);
      details.set(id, d.fields);
    }
  } catch (err) {
    showError(err);
    return;
  }
  if (!tr.isConnected) return; // a refresh replaced the rows meanwhile
  expanded.add(id);
  tr.classList.add("open");
  tr.after(detailRow(id, details.get(id)));
}

function detailRow(id, fields) {
  const dl = el("dl", { class: "fields" });
  for (const [name, value] of Object.entries(fields)) {
    const dd = el("dd", { text: value === "" ? "" : String(value), "data-value": String(value), "data-field": name });
    const dim = FIELD_DIMS[name];
    if (dim && value !== "" && meta.dimensions.some((d) => d.key === dim)) {
      dd.classList.add("clickable");
      dd.title = `Filter ${dimLabel(dim)} on this value (Alt/Shift: exclude)`;
      dd.addEventListener("click", (e) => clickFilter(e, dim, String(value)));
    }
    dl.append(el("div", { class: "field" }, el("dt", { text: name }), dd));
  }
  return el("tr", { class: "sample-detail", "data-id": id }, el("td", { colspan: 10 }, dl));
}

// --- create a firewall rule ------------------------------------------------------------------

let ruleDraft = null;

async function openRuleDialog() {
  const dialog = $("#rule-dialog");
  ruleDraft = null;
  $("#rule-expression").textContent = "…";
  $("#rule-result").hidden = true;
  $("#rule-result").textContent = "";
  $("#rule-account").value = sessionStorage.getItem("netlogpush.account") ?? "";
  $("#rule-token").value = sessionStorage.getItem("netlogpush.token") ?? "";
  $("#rule-submit").disabled = true;
  $("#rule-note").textContent = meta.rules_api
    ? "The token needs rulesets:write on this account. Account id and token stay in this browser tab only."
    : "This server does not serve the rules API (run netlogpush serve): the expression can be copied.";
  dialog.showModal();
  if (!state.filters.length) {
    $("#rule-expression").textContent = "Add at least one filter first: the rule matches the filtered traffic.";
    dialog.dataset.state = "error";
    return;
  }
  try {
    const p = viewParams();
    ruleDraft = await getJSON(`${API}/rule?${p.toString()}`);
    $("#rule-expression").textContent = ruleDraft.expression;
    $("#rule-description").value = ruleDraft.description ?? "";
    $("#rule-submit").disabled = !meta.rules_api;
    dialog.dataset.state = "ready";
  } catch (err) {
    $("#rule-expression").textContent = `Cannot build a rule from these filters: ${err.message}`;
    dialog.dataset.state = "error";
  }
}

function showRuleResult(ok, text) {
  const out = $("#rule-result");
  out.hidden = false;
  out.className = `result ${ok ? "ok" : "bad"}`;
  out.textContent = text;
  $("#rule-dialog").dataset.state = ok ? "created" : "failed";
}

async function submitRule() {
  if (!ruleDraft) return;
  const account = $("#rule-account").value.trim();
  const token = $("#rule-token").value.trim();
  if (!account || !token) { showRuleResult(false, "Enter the account id and an API token."); return; }
  sessionStorage.setItem("netlogpush.account", account);
  sessionStorage.setItem("netlogpush.token", token);
  const base = meta.api_base ?? "/client/v4";
  const url = `${base}/accounts/${encodeURIComponent(account)}/rulesets/phases/magic_transit/entrypoint`;
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  $("#rule-submit").disabled = true;
  $("#rule-dialog").dataset.state = "sending";
  try {
    let current = { rules: [] };
    try {
      current = (await getJSON(url, { headers })).result ?? current;
    } catch (err) {
      if (err.status !== 404 || /netlogpush serve/.test(err.message)) throw err; // 404: no entry point yet
    }
    const rule = {
      action: ruleDraft.action ?? "block", expression: ruleDraft.expression,
      description: $("#rule-description").value, enabled: true,
    };
    const body = { rules: [...(current.rules ?? []), rule] };
    for (const k of ["name", "description"]) if (typeof current[k] === "string") body[k] = current[k];
    const answer = await getJSON(url, {
      method: "PUT", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const rules = answer.result?.rules ?? [];
    const added = rules[rules.length - 1];
    $("#rule-result").dataset.ruleId = added?.id ?? "";
    showRuleResult(true, `Created rule ${added?.id ?? ""} (${rules.length} rule${rules.length === 1 ? "" : "s"} in magic_transit now).\n\n` +
      JSON.stringify(answer, null, 2));
  } catch (err) {
    showRuleResult(false, `The rules API refused: ${err.status ? `${err.status} ` : ""}${err.message}`);
  } finally {
    $("#rule-submit").disabled = false;
  }
}

// --- controls --------------------------------------------------------------------------------

function syncControls() {
  for (const t of TABS) {
    const b = $(`#tab-${t}`);
    b.classList.toggle("active", state.tab === t);
    b.setAttribute("aria-selected", String(state.tab === t));
  }
  const range = $("#range");
  range.querySelector('option[value="custom"]').hidden = state.range !== "custom";
  if (state.range === "custom") {
    const opt = range.querySelector('option[value="custom"]');
    const a = new Date(toMs(state.start)).toISOString(), b = new Date(toMs(state.end)).toISOString();
    opt.textContent = `${a.slice(5, 10)} ${a.slice(11, 19)} → ${b.slice(0, 10) === a.slice(0, 10) ? "" : `${b.slice(5, 10)} `}${b.slice(11, 19)} UTC`;
    range.title = `${state.start} → ${state.end}`;
  }
  range.value = state.range;
  $("#dim").value = state.dim;
  $("#metric").value = state.metric;
  $("#counting").value = state.counting;
  const relative = state.range !== "custom";
  $("#live").checked = state.live && relative;
  $("#live").disabled = !relative;
  $("#live-dot").classList.toggle("on", state.live && relative);
  renderChips();
}

function fillSelect(select, items, current) {
  select.replaceChildren(...items.map((d) => el("option", { value: d.key, text: d.label })));
  select.value = current;
}

function wireControls() {
  for (const t of TABS) {
    $(`#tab-${t}`).addEventListener("click", () => { state.tab = t; changed({ resetSamples: true }); });
  }
  $("#range").addEventListener("change", (e) => {
    if (e.target.value === "custom") return;
    state.range = e.target.value;
    state.start = state.end = null;
    changed({ resetSamples: true });
  });
  $("#dim").addEventListener("change", (e) => { state.dim = e.target.value; changed(); });
  $("#metric").addEventListener("change", (e) => { state.metric = e.target.value; changed(); });
  $("#counting").addEventListener("change", (e) => { state.counting = e.target.value; changed({ resetSamples: true }); });
  $("#live").addEventListener("change", (e) => {
    state.live = e.target.checked;
    syncControls();
    writeUrl();
    if (state.live) refresh({ quiet: true });
  });
  $("#filter-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("#filter-value").value;
    if (!value.trim()) return;
    if (addFilter($("#filter-dim").value, value, $("#filter-exclude").checked)) {
      $("#filter-value").value = "";
      $("#filter-exclude").checked = false;
    }
  });
  $("#sum-top-source").addEventListener("click", (e) => {
    const ip = e.currentTarget.dataset.value;
    if (ip) clickFilter(e, "source_ip", ip);
  });
  $("#samples-prev").addEventListener("click", () => {
    state.sampleOffset = Math.max(0, state.sampleOffset - SAMPLE_PAGE);
    loadSamples({}).catch(showError);
  });
  $("#samples-next").addEventListener("click", () => {
    state.sampleOffset += SAMPLE_PAGE;
    loadSamples({}).catch(showError);
  });
  $("#error-close").addEventListener("click", clearError);
  $("#create-rule").addEventListener("click", openRuleDialog);
  $("#rule-cancel").addEventListener("click", () => $("#rule-dialog").close());
  $("#rule-submit").addEventListener("click", submitRule);
}

function startLive() {
  setInterval(() => {
    // Skip a tick while a refresh is still running (slow query): never pile requests up.
    if (state.live && state.range !== "custom" && !document.hidden && !inflight) refresh({ quiet: true });
  }, LIVE_MS);
}

async function main() {
  document.body.dataset.state = "loading";
  readUrl();
  wireControls();
  if (!window.Plotly) {
    showError(new ApiError(0, "the charting library did not load", "/dashboard/static/plotly.min.js"));
  }
  try {
    meta = await getJSON(`${API}/meta`);
    clockSkewMs = meta.now_ns / 1e6 - Date.now();
    if (Array.isArray(meta.int_dimensions)) INT_DIMS = new Set(meta.int_dimensions);
  } catch (err) {
    showError(err);
    document.body.dataset.state = "error";
    return;
  }
  fillSelect($("#dim"), meta.dimensions, state.dim);
  fillSelect($("#filter-dim"), meta.dimensions, "source_ip");
  if (!meta.dimensions.some((d) => d.key === state.dim)) state.dim = "action";
  syncControls();
  writeUrl();
  await refresh();
  startLive();
}

main();
