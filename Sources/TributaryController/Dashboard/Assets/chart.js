// A small SVG line chart for the dashboard: numeric x (round numbers), one or more series,
// "nice" axis ticks, grid lines, point markers with tooltips and a legend. No dependencies.
//
//   TributaryChart.render(element, {
//     series: [{ name: "accuracy", className: "s1", dashed: false, points: [[1, 0.85], [2, 0.9]] }],
//     xLabel: "round", yFormat: v => v.toFixed(2), yMin: 0, yMax: 1, empty: "no rounds yet",
//   });
//
// The chart is drawn at the element's current width (so text keeps its size) and redrawn
// when the element is resized.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const state = new WeakMap();
  let observer = null;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attrs) node.setAttribute(key, String(attrs[key]));
    if (parent) parent.appendChild(node);
    return node;
  }

  // Tick values covering [lo, hi] with about `count` steps of 1, 2 or 5 × 10^k.
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm < 1.5 ? 1 : norm < 2.5 ? 2 : norm < 7 ? 5 : 10) * mag;
    const start = Math.floor(lo / step + 1e-9) * step;
    const end = Math.ceil(hi / step - 1e-9) * step;
    const ticks = [];
    for (let v = start; v <= end + step / 2 && ticks.length < 50; v += step) ticks.push(Number(v.toPrecision(12)));
    return { ticks, lo: start, hi: end, step };
  }

  function integerTicks(lo, hi, maxTicks) {
    const span = Math.max(1, hi - lo);
    let step = 1;
    for (const s of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000]) {
      step = s;
      if (span / s <= maxTicks) break;
    }
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) ticks.push(v);
    if (!ticks.length) ticks.push(lo);
    return ticks;
  }

  function draw(container) {
    const opts = state.get(container);
    if (!opts) return;
    const width = Math.max(260, Math.round(container.clientWidth || 480));
    const height = opts.height || 220;
    const named = (opts.series || []).filter(s => s.name && (s.points || []).length);
    const withLegend = named.length > 1 || !!opts.legend;
    const m = { top: withLegend ? 30 : 14, right: 16, bottom: 36, left: 52 };
    const w = width - m.left - m.right;
    const h = height - m.top - m.bottom;
    const series = (opts.series || []).map(s => ({ ...s, points: (s.points || []).filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1])) }));
    const all = series.flatMap(s => s.points);

    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg", "aria-hidden": "true", focusable: "false" });
    container.replaceChildren(svg);
    if (!all.length) {
      el("rect", { x: m.left, y: m.top, width: w, height: h, class: "chart-frame" }, svg);
      const t = el("text", { x: m.left + w / 2, y: m.top + h / 2, class: "chart-empty", "text-anchor": "middle", "dominant-baseline": "middle" }, svg);
      t.textContent = opts.empty || "no data yet";
      return;
    }

    let xMin = Math.min(...all.map(p => p[0])), xMax = Math.max(...all.map(p => p[0]));
    if (xMax === xMin) { xMin -= 1; xMax += 1; }
    let yLo = opts.yMin !== undefined ? Math.min(opts.yMin, ...all.map(p => p[1])) : Math.min(...all.map(p => p[1]));
    let yHi = opts.yMax !== undefined ? Math.max(opts.yMax, ...all.map(p => p[1])) : Math.max(...all.map(p => p[1]));
    if (opts.yMin === undefined && opts.zeroBased) yLo = Math.min(0, yLo);
    const yt = niceTicks(yLo, yHi, 4);
    const yMin = opts.yMin !== undefined ? Math.max(opts.yMin, yt.lo) : yt.lo;
    const yMax = opts.yMax !== undefined ? Math.min(opts.yMax, yt.hi) : yt.hi;
    const x = v => m.left + (v - xMin) / (xMax - xMin) * w;
    const y = v => m.top + h - (v - yMin) / ((yMax - yMin) || 1) * h;
    // Tick labels with as many decimals as the step needs (0.002 → 3), unless the caller formats.
    const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(yt.step) + 1e-9)));
    const fmt = opts.yFormat || (v => v.toFixed(decimals));

    const grid = el("g", { class: "chart-grid" }, svg);
    for (const v of yt.ticks) {
      if (v < yMin - 1e-12 || v > yMax + 1e-12) continue;
      el("line", { x1: m.left, x2: m.left + w, y1: y(v), y2: y(v) }, grid);
      const t = el("text", { x: m.left - 8, y: y(v), "text-anchor": "end", "dominant-baseline": "middle", class: "chart-tick" }, svg);
      t.textContent = fmt(v);
    }
    for (const v of integerTicks(Math.ceil(xMin), Math.floor(xMax), Math.max(2, Math.floor(w / 60)))) {
      el("line", { x1: x(v), x2: x(v), y1: m.top + h, y2: m.top + h + 4, class: "chart-axis" }, svg);
      const t = el("text", { x: x(v), y: m.top + h + 16, "text-anchor": "middle", class: "chart-tick" }, svg);
      t.textContent = String(v);
    }
    el("line", { x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h, class: "chart-axis" }, svg);
    if (opts.xLabel) {
      const t = el("text", { x: m.left + w / 2, y: height - 4, "text-anchor": "middle", class: "chart-label" }, svg);
      t.textContent = opts.xLabel;
    }

    series.forEach((s, i) => {
      if (!s.points.length) return;
      const cls = s.className || `s${i + 1}`;
      const pts = s.points.slice().sort((a, b) => a[0] - b[0]);
      const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
      el("path", { d, class: `chart-line ${cls}${s.dashed ? " dashed" : ""}` }, svg);
      const dots = el("g", { class: `chart-dots ${cls}` }, svg);
      const r = pts.length > 60 ? 0 : pts.length > 25 ? 2 : 3.2;
      if (r) for (const p of pts) {
        const c = el("circle", { cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r }, dots);
        el("title", {}, c).textContent = `${s.name}, round ${p[0]}: ${(opts.tooltipFormat || fmt)(p[1])}`;
      }
    });

    // Legend, top right above the plot.
    if (withLegend) {
      const lg = el("g", { class: "chart-legend" }, svg);
      let lx = m.left + w;
      for (let i = named.length - 1; i >= 0; i--) {
        const s = named[i];
        const label = el("text", { y: 6, "dominant-baseline": "hanging", "text-anchor": "end", class: "chart-tick" }, lg);
        label.textContent = s.name;
        const textWidth = s.name.length * 6.6;
        label.setAttribute("x", lx);
        const cls = s.className || `s${opts.series.indexOf(s) + 1}`;
        el("line", { x1: lx - textWidth - 22, x2: lx - textWidth - 6, y1: 12, y2: 12, class: `chart-line ${cls}${s.dashed ? " dashed" : ""}` }, lg);
        lx -= textWidth + 34;
      }
    }
  }

  function render(container, options) {
    if (!container) return;
    state.set(container, options);
    if (!observer && typeof ResizeObserver === "function") {
      observer = new ResizeObserver(entries => {
        for (const entry of entries) {
          const last = entry.target.dataset.chartWidth;
          const now = String(Math.round(entry.contentRect.width));
          if (last !== now) { entry.target.dataset.chartWidth = now; draw(entry.target); }
        }
      });
    }
    if (observer && !container.dataset.chartObserved) { container.dataset.chartObserved = "1"; observer.observe(container); }
    draw(container);
  }

  window.TributaryChart = { render, niceTicks };
})();
