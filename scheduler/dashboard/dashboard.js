// carbonshift dashboard: plain JavaScript, SVG drawn by hand, data from the REST API only.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const ACTIVE = ["PENDING", "DEFERRED", "DISPATCHED", "RUNNING"];
const STATE_COLORS = { PENDING: "#9e9e9e", DEFERRED: "#1565c0", DISPATCHED: "#ef6c00", RUNNING: "#2e7d32" };
const ZONE_COLORS = ["#6a1b9a", "#00838f", "#c62828", "#5d4037", "#283593", "#827717"];
const SERIES_COLORS = { emissions: "#2e7d32", counterfactual: "#9e9e9e" };
const REFRESH_MS = 15000;

function storedToken() {
  const fromUrl = new URLSearchParams(location.search).get("token");
  if (fromUrl) localStorage.setItem("carbonshiftToken", fromUrl);
  return fromUrl || localStorage.getItem("carbonshiftToken") || "";
}

async function api(path) {
  const headers = {};
  const token = storedToken();
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers });
  if (response.status === 401) {
    document.getElementById("token-form").style.display = "inline";
    throw new Error("this server needs an API token: paste one above");
  }
  const body = await response.json();
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return body;
}

async function activeJobs() {
  const states = ACTIVE.map((s) => "state=" + s).join("&");
  const jobs = [];
  let offset = 0;
  while (offset !== null) {
    const page = await api(`/v1/jobs?${states}&limit=500&offset=${offset}`);
    jobs.push(...page.items);
    offset = page.next_offset;
  }
  return jobs;
}

function svgEl(tag, attrs, parent) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exponent = Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * 10 ** exponent >= value) return step * 10 ** exponent;
  }
  return 10 ** (exponent + 1);
}

function fmt(value, digits) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function timeLabel(ms) {
  return new Date(ms).toISOString().slice(5, 16).replace("T", " ");
}

// ---- tooltip

const tooltip = () => document.getElementById("tooltip");

function attachTooltip(node, text) {
  node.addEventListener("mouseenter", () => {
    tooltip().textContent = text;
    tooltip().style.display = "block";
  });
  node.addEventListener("mousemove", (event) => {
    tooltip().style.left = event.clientX + 12 + "px";
    tooltip().style.top = event.clientY + 12 + "px";
  });
  node.addEventListener("mouseleave", () => {
    tooltip().style.display = "none";
  });
}

// ---- timeline

function jobWindow(job, now) {
  let start = job.planned_start ? Date.parse(job.planned_start) : now;
  if (job.state === "RUNNING" || job.state === "DISPATCHED") start = Math.min(start, Date.parse(job.updated_at));
  return { start, end: start + job.spec.estimated_duration_s * 1000 };
}

function packLanes(windows) {
  const ends = [];
  return windows.map((w) => {
    let lane = ends.findIndex((end) => end <= w.start);
    if (lane < 0) lane = ends.push(w.end) - 1;
    ends[lane] = w.end;
    return lane;
  });
}

function drawTimeline(jobs, forecasts, now) {
  const width = 1100, left = 56, right = 12, plotTop = 12, plotH = 200, laneH = 16;
  const windows = jobs.map((job) => jobWindow(job, now));
  const order = windows.map((_, i) => i).sort((a, b) => windows[a].start - windows[b].start);
  const lanes = packLanes(order.map((i) => windows[i]));
  const laneOf = {};
  order.forEach((i, k) => { laneOf[i] = lanes[k]; });
  const laneCount = Math.max(0, ...lanes.map((l) => l + 1));
  const height = plotTop + plotH + 24 + laneCount * laneH + 24;
  const points = forecasts.flatMap((f) => f.points.map((p) => [Date.parse(p.start), p.g_per_kwh, f.step_s]));
  const t0 = Math.min(now - 3600e3, ...windows.map((w) => w.start));
  const t1 = Math.max(now + 24 * 3600e3, ...windows.map((w) => w.end), ...points.map((p) => p[0] + p[2] * 1000));
  const yMax = niceMax(Math.max(0, ...points.map((p) => p[1])));
  const x = (t) => left + ((width - left - right) * (t - t0)) / (t1 - t0);
  const y = (v) => plotTop + plotH * (1 - v / yMax);

  const host = document.getElementById("timeline");
  host.replaceChildren();
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "timeline-svg" }, host);
  for (let i = 0; i <= 4; i++) {
    const value = (yMax * i) / 4;
    svgEl("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#eee" }, svg);
    svgEl("text", { x: left - 6, y: y(value) + 4, "font-size": 10, "text-anchor": "end" }, svg).textContent = value;
  }
  svgEl("text", { x: 4, y: plotTop + 8, "font-size": 10 }, svg).textContent = "g/kWh";
  forecasts.forEach((forecast, z) => {
    let path = "";
    forecast.points.forEach((p, i) => {
      const start = Date.parse(p.start);
      path += `${i ? "L" : "M"}${x(start)},${y(p.g_per_kwh)}L${x(start + forecast.step_s * 1000)},${y(p.g_per_kwh)}`;
    });
    const line = svgEl("path", { d: path, fill: "none", stroke: ZONE_COLORS[z % ZONE_COLORS.length],
      "stroke-width": 2, class: "forecast", "data-zone": forecast.zone }, svg);
    attachTooltip(line, `${forecast.zone} forecast from ${forecast.provenance.provider}`);
  });
  svgEl("line", { x1: x(now), x2: x(now), y1: plotTop, y2: height - 20, stroke: "#c62828",
    "stroke-dasharray": "4 3", class: "now" }, svg);
  const laneTop = plotTop + plotH + 20;
  jobs.forEach((job, i) => {
    const w = windows[i];
    const rect = svgEl("rect", {
      x: x(w.start), y: laneTop + laneOf[i] * laneH, width: Math.max(2, x(w.end) - x(w.start)),
      height: laneH - 4, rx: 2, fill: STATE_COLORS[job.state] || "#000", class: "job",
      "data-job-id": job.id, "data-state": job.state,
    }, svg);
    const region = job.planned_region ? ` in ${job.planned_region}` : "";
    attachTooltip(rect, `${job.spec.name} (${job.spec.team}) · ${job.state}${region} · ` +
      `${timeLabel(w.start)} → ${timeLabel(w.end)} UTC — ${job.explanation || "no decision yet"}`);
  });
  for (let i = 0; i <= 6; i++) {
    const t = t0 + ((t1 - t0) * i) / 6;
    svgEl("text", { x: x(t), y: height - 6, "font-size": 10, "text-anchor": "middle" }, svg).textContent = timeLabel(t);
  }
  const legend = document.getElementById("timeline-legend");
  legend.replaceChildren();
  const keys = [...forecasts.map((f, z) => [f.zone + " forecast", ZONE_COLORS[z % ZONE_COLORS.length]]),
    ...Object.entries(STATE_COLORS)];
  for (const [name, color] of keys) {
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${color}"></i>`;
    item.append(name);
    legend.appendChild(item);
  }
}

// ---- savings

function drawSavings(report, chartId, tableId, label) {
  const rows = report.rows;
  const width = 520, height = 220, left = 48, bottom = 28, top = 10;
  const yMax = niceMax(Math.max(0, ...rows.flatMap((r) => [r.emissions_kg, r.counterfactual_kg])));
  const host = document.getElementById(chartId);
  host.replaceChildren();
  host.dataset.totalSavedKg = report.total.saved_kg;
  host.dataset.totalEmissionsKg = report.total.emissions_kg;
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}` }, host);
  const y = (v) => top + (height - top - bottom) * (1 - v / yMax);
  for (let i = 0; i <= 4; i++) {
    const value = (yMax * i) / 4;
    svgEl("line", { x1: left, x2: width, y1: y(value), y2: y(value), stroke: "#eee" }, svg);
    svgEl("text", { x: left - 4, y: y(value) + 4, "font-size": 10, "text-anchor": "end" }, svg).textContent =
      fmt(value, value < 10 ? 1 : 0);
  }
  const groupW = (width - left) / Math.max(rows.length, 1);
  rows.forEach((row, g) => {
    [["emissions", row.emissions_kg], ["counterfactual", row.counterfactual_kg]].forEach(([series, value], s) => {
      const bar = svgEl("rect", {
        x: left + g * groupW + groupW * 0.1 + s * groupW * 0.4, y: y(Math.max(value, 0)),
        width: groupW * 0.38, height: height - bottom - y(Math.max(value, 0)), fill: SERIES_COLORS[series],
        class: "bar", "data-key": row.key, "data-series": series, "data-value": value,
      }, svg);
      attachTooltip(bar, `${row.key}: ${series} ${fmt(value, 3)} kg CO2e; saved ${fmt(row.saved_kg, 3)} kg (${fmt(row.saved_pct, 1)} %)`);
    });
    svgEl("text", { x: left + g * groupW + groupW / 2, y: height - 10, "font-size": 11, "text-anchor": "middle" }, svg)
      .textContent = row.key;
  });
  const table = document.createElement("table");
  table.innerHTML = `<tr><th>${label}</th><th>jobs</th><th>kWh</th><th>emissions kg</th>` +
    "<th>counterfactual kg</th><th>saved kg</th><th>saved %</th><th>mean deferral h</th></tr>";
  for (const row of [...rows, report.total]) {
    const tr = table.insertRow();
    tr.dataset.key = row.key;
    if (row === report.total) tr.className = "total";
    const cells = [row.key, row.jobs, fmt(row.energy_kwh, 2), fmt(row.emissions_kg, 3),
      fmt(row.counterfactual_kg, 3), fmt(row.saved_kg, 3), fmt(row.saved_pct, 1), fmt(row.mean_deferral_h, 1)];
    cells.forEach((text, i) => {
      const td = tr.insertCell();
      td.textContent = text;
      if (i) td.className = "n";
    });
  }
  document.getElementById(tableId).replaceChildren(table);
}

// ---- refresh loop

function zonesOf(jobs) {
  const meta = document.querySelector('meta[name="carbonshift-zones"]').content;
  const zones = new Set(meta ? meta.split(",") : []);
  jobs.forEach((job) => job.spec.zones.forEach((zone) => zones.add(zone)));
  return [...zones].sort();
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [jobs, byTeam, byModel] = await Promise.all([
      activeJobs(), api("/v1/savings?group_by=team"), api("/v1/savings?group_by=model_version"),
    ]);
    const forecasts = [];
    const problems = [];
    for (const zone of zonesOf(jobs)) {
      try {
        forecasts.push(await api(`/v1/forecasts/${encodeURIComponent(zone)}?hours=48`));
      } catch (error) {
        problems.push(`${zone}: ${error.message}`);
      }
    }
    drawTimeline(jobs, forecasts, Date.now());
    drawSavings(byTeam, "team-chart", "team-table", "team");
    drawSavings(byModel, "model-chart", "model-table", "model version");
    status.className = problems.length ? "error" : "";
    status.textContent = `${jobs.length} queued or running · updated ${new Date().toISOString().slice(11, 19)} UTC` +
      (problems.length ? ` · forecast unavailable for ${problems.join("; ")}` : "");
    document.body.dataset.ready = "true";
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("carbonshiftToken", document.getElementById("token").value);
  refresh();
});
refresh();
setInterval(refresh, REFRESH_MS);
