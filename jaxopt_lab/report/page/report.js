/* jaxopt_lab's report page: draws the views that report.html embeds as JSON.
 *
 * Written for the lab, no library: plain DOM and SVG. Each <div data-view=NAME> holds a
 * <script type="application/json"> with its data; VIEWS[NAME] draws it. Arrays arrive as
 * {"__array__": {dtype, shape, base64}}, little-endian, read into typed arrays (every
 * platform a browser runs on is little-endian). What is drawn is also written into the
 * DOM as data (data-xy on a path: the positions it was drawn from), so that a test can
 * compare it with the library's numbers. When every view is drawn, <body data-ready>.
 * The leaderboard's view is in leaderboard.js, which the page inlines before this file.
 */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  /* Okabe-Ito colours, each with its own dash pattern and marker: readable without colour. */
  const STYLES = [
    { colour: "#0072B2", dash: "", marker: "circle" },
    { colour: "#D55E00", dash: "7 3", marker: "square" },
    { colour: "#009E73", dash: "2 2", marker: "triangle" },
    { colour: "#CC79A7", dash: "9 3 2 3", marker: "diamond" },
    { colour: "#E69F00", dash: "1 3", marker: "cross" },
    { colour: "#56B4E9", dash: "12 4", marker: "triangle-down" },
    { colour: "#000000", dash: "4 2 1 2", marker: "plus" },
  ];
  const style = (i) => STYLES[i % STYLES.length];
  const LIMIT = 1e5; /* pixel coordinates are clamped here: a diverged run reaches 1e38 */

  /* ------------------------------------------------------------------ data */

  const TYPED = {
    float32: Float32Array, float64: Float64Array, int32: Int32Array,
    uint8: Uint8Array, uint16: Uint16Array,
  };

  function decodeArray(spec) {
    const text = atob(spec.base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const Type = TYPED[spec.dtype];
    return { values: new Type(bytes.buffer), shape: spec.shape };
  }

  function decode(value) {
    if (Array.isArray(value)) return value.map(decode);
    if (value !== null && typeof value === "object") {
      if (value.__array__) return decodeArray(value.__array__);
      const out = {};
      for (const key of Object.keys(value)) out[key] = decode(value[key]);
      return out;
    }
    return value;
  }

  /* The flat offset of an index into an array of this shape (C order). */
  function offset(shape, index) {
    let flat = 0;
    for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + (index[i] || 0);
    return flat;
  }

  /* ------------------------------------------------------------------ DOM */

  function svg(tag, attributes, parent) {
    const element = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, value);
    if (parent) parent.appendChild(element);
    return element;
  }

  function html(tag, attributes, parent, text) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value !== false && value !== undefined) element.setAttribute(key, value === true ? "" : value);
    }
    if (text !== undefined) element.textContent = text;
    if (parent) parent.appendChild(element);
    return element;
  }

  function fmt(value, digits) {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "∞" : "−∞";
    const size = Math.abs(value);
    if (size !== 0 && (size < 1e-3 || size >= 1e4)) return value.toExponential((digits || 3) - 1);
    return String(Number(value.toPrecision(digits || 3)));
  }

  /* Tick labels: 1e-4, 0.01, 2.5, 1e4. */
  function tickText(value) {
    const size = Math.abs(value);
    // (rounded first: Math.pow(10, 23) is 1.0000000000000001e23)
    if (size !== 0 && (size < 1e-3 || size >= 1e4)) return Number(value.toPrecision(6)).toExponential().replace("e+", "e");
    return String(Number(value.toPrecision(6)));
  }

  const round = (v) => Math.round(Math.max(-LIMIT, Math.min(LIMIT, v)) * 100) / 100;

  function markerPath(kind, x, y, r) {
    switch (kind) {
      case "square": return `M${x - r},${y - r}h${2 * r}v${2 * r}h${-2 * r}z`;
      case "triangle": return `M${x},${y - 1.25 * r}L${x + 1.15 * r},${y + 0.85 * r}L${x - 1.15 * r},${y + 0.85 * r}z`;
      case "triangle-down": return `M${x},${y + 1.25 * r}L${x + 1.15 * r},${y - 0.85 * r}L${x - 1.15 * r},${y - 0.85 * r}z`;
      case "diamond": return `M${x},${y - 1.35 * r}L${x + r},${y}L${x},${y + 1.35 * r}L${x - r},${y}z`;
      case "cross": return `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`;
      case "plus": return `M${x - 1.2 * r},${y}h${2.4 * r}M${x},${y - 1.2 * r}v${2.4 * r}`;
      default: return `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`;
    }
  }

  function marker(parent, kind, x, y, r, colour, extra) {
    const open = kind === "cross" || kind === "plus";
    return svg("path", Object.assign({
      d: markerPath(kind, round(x), round(y), r), stroke: colour, "stroke-width": open ? 1.8 : 1,
      fill: open ? "none" : colour,
    }, extra || {}), parent);
  }

  /* A small inline SVG: the line's dash and marker, for legends and headings. */
  function sample(parent, s) {
    const icon = svg("svg", { width: 34, height: 14, viewBox: "0 0 34 14", "aria-hidden": "true" }, parent);
    svg("line", { x1: 1, y1: 7, x2: 33, y2: 7, stroke: s.colour, "stroke-width": 2, "stroke-dasharray": s.dash }, icon);
    marker(icon, s.marker, 17, 7, 4, s.colour);
    return icon;
  }

  function legend(parent, names) {
    const list = html("ul", { class: "legend" }, parent);
    names.forEach((name, i) => {
      const item = html("li", {}, list);
      sample(item, style(i));
      html("span", {}, item, name);
    });
    return list;
  }

  function slider(parent, id, label, max, value, describe) {
    const row = html("div", { class: "slider" }, parent);
    html("label", { for: id }, row, label);
    const input = html("input", { type: "range", id, min: 0, max, step: 1, value }, row);
    const output = html("output", { for: id }, row);
    const show = () => {
      const text = describe(Number(input.value));
      output.textContent = text;
      input.setAttribute("aria-valuetext", text);
    };
    show();
    return { input, show };
  }

  /* ------------------------------------------------------------------ charts */

  function niceTicks(low, high, count) {
    const span = high - low;
    if (!(span > 0)) return [low];
    const raw = span / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => span / s <= count) || 10 * power;
    const ticks = [];
    for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
    return ticks;
  }

  /* Axes in a new SVG; x/y map values to pixels (log10 where asked). */
  function chart(parent, o) {
    const margin = { left: 54, right: o.right || 16, top: 10, bottom: 38 };
    const width = o.width, height = o.height;
    const w = width - margin.left - margin.right, h = height - margin.top - margin.bottom;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": o.label }, parent);
    const fx = o.xLog ? Math.log10 : (v) => v, fy = o.yLog ? Math.log10 : (v) => v;
    const pad = (o.pad || 0) * (fx(o.x[1]) - fx(o.x[0]));
    const [x0, x1] = [fx(o.x[0]) - pad, fx(o.x[1]) + pad], [y0, y1] = [fy(o.y[0]), fy(o.y[1])];
    const c = {
      svg: root, left: margin.left, top: margin.top, w, h,
      x: (v) => margin.left + (fx(v) - x0) / (x1 - x0 || 1) * w,
      y: (v) => margin.top + h - (fy(v) - y0) / (y1 - y0 || 1) * h,
      invertX: (px) => {
        const t = x0 + (px - margin.left) / w * (x1 - x0);
        return o.xLog ? Math.pow(10, t) : t;
      },
    };
    const clipId = `${o.id}-clip`;
    svg("rect", { x: margin.left, y: margin.top, width: w, height: h }, svg("clipPath", { id: clipId }, root));
    const axes = svg("g", { class: "axis" }, root);
    svg("rect", { class: "frame", x: margin.left, y: margin.top, width: w, height: h }, axes);
    const decades = (low, high) => {
      const first = Math.ceil(low), count = Math.floor(high) - first + 1, stride = Math.ceil(count / 5);
      return Array.from({ length: Math.ceil(count / stride) }, (_, i) => Math.pow(10, first + i * stride));
    };
    const ticks = (log, low, high) => (log ? decades(low, high) : niceTicks(low, high, 5));
    for (const t of ticks(o.xLog, x0, x1)) {
      const px = round(c.x(t));
      const g = svg("g", { class: "tick" }, axes);
      svg("line", { x1: px, x2: px, y1: margin.top + h, y2: margin.top + h + 4 }, g);
      svg("text", { x: px, y: margin.top + h + 15, "text-anchor": "middle" }, g).textContent = tickText(t);
    }
    for (const t of ticks(o.yLog, y0, y1)) {
      const py = round(c.y(t));
      const g = svg("g", { class: "tick" }, axes);
      svg("line", { x1: margin.left - 4, x2: margin.left, y1: py, y2: py }, g);
      svg("text", { x: margin.left - 6, y: py + 3.5, "text-anchor": "end" }, g).textContent = tickText(t);
    }
    svg("text", { x: margin.left + w / 2, y: height - 4, "text-anchor": "middle" }, axes).textContent = o.xLabel;
    svg("text", { x: 12, y: margin.top + h / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${margin.top + h / 2})` }, axes).textContent = o.yLabel;
    c.plot = svg("g", { "clip-path": `url(#${clipId})` }, root);
    c.top_layer = svg("g", {}, root);
    return c;
  }

  /* An SVG path through (x, y) pairs, broken where a value is not finite. */
  function linePath(points) {
    let d = "", pen = false;
    for (const [x, y] of points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${round(x)},${round(y)}`;
      pen = true;
    }
    return d;
  }

  function finiteRange(arrays) {
    let low = Infinity, high = -Infinity;
    for (const values of arrays) for (const v of values) if (Number.isFinite(v)) { low = Math.min(low, v); high = Math.max(high, v); }
    return [low, high];
  }

  /* Hover (and a keyboard slider) reads every series at one index. */
  function readable(c, parent, id, count, label, onIndex) {
    const guide = svg("line", { class: "guide", y1: c.top, y2: c.top + c.h, visibility: "hidden" }, c.top_layer);
    c.guide = guide;
    const catcher = svg("rect", { class: "hover", x: c.left, y: c.top, width: c.w, height: c.h, fill: "transparent" }, c.top_layer);
    const control = slider(parent, `${id}-read`, label, count - 1, 0, (i) => onIndex(i));
    const show = (i) => {
      control.input.value = i;
      control.show();
      guide.setAttribute("visibility", "visible");
    };
    catcher.addEventListener("mousemove", (event) => {
      const box = c.svg.getBoundingClientRect();
      const px = (event.clientX - box.left) * (c.svg.viewBox.baseVal.width / box.width);
      show(c.nearest(px));
    });
    control.input.addEventListener("input", () => show(Number(control.input.value)));
    return control;
  }

  /* ------------------------------------------------------------------ the 2-D explorer */

  function twoD(root, data, id) {
    const S = data.steps, N = data.learning_rates.values.length;
    const optimizers = data.optimizers, problems = data.problems;
    const O = optimizers.length;
    const shape = data.trajectories.shape;
    const state = {
      problem: Math.max(0, problems.findIndex((p) => p.name === data.preset_problem)),
      overlay: false,
      lr: optimizers.map((o) => o.preset),
      step: optimizers.map(() => S),
    };
    const lrOf = (i) => data.learning_rates.values[i];
    const position = (p, o, n, s) => {
      const k = offset(shape, [p, o, n, s, 0]);
      return [data.trajectories.values[k], data.trajectories.values[k + 1]];
    };
    const scalar = (array, p, o, n) => array.values[offset(array.shape, [p, o, n])];

    const controls = html("div", { class: "controls" }, root);
    const problemLabel = html("label", { for: `${id}-problem` }, controls, "Problem ");
    const select = html("select", { id: `${id}-problem`, class: "problem" }, problemLabel);
    problems.forEach((p, i) => html("option", { value: p.name, selected: i === state.problem }, select, p.name));
    const overlayLabel = html("label", {}, controls);
    const overlay = html("input", { type: "checkbox", class: "overlay-toggle" }, overlayLabel);
    overlayLabel.append(" all optimizers in one plot");
    const preset = html("button", { type: "button", class: "preset" }, controls, "The tutorial's settings");
    const description = html("p", { class: "description" }, root);
    const overlayBox = html("div", { class: "overlay", hidden: true }, root);
    const overlayPlot = html("div", {}, overlayBox);
    legend(overlayBox, optimizers.map((o) => o.name));
    const panels = html("div", { class: "panels" }, root);

    const frames = new Map();
    function frame(problem, maxWidth, maxHeight) {
      const key = `${problem.name}/${maxWidth}`;
      if (frames.has(key)) return frames.get(key);
      const [x0, x1, y0, y1] = problem.window;
      const scale = Math.min(maxWidth / (x1 - x0), maxHeight / (y1 - y0));
      const f = { w: (x1 - x0) * scale, h: (y1 - y0) * scale, x: (v) => (v - x0) * scale, y: (v) => (y1 - v) * scale };
      const xy = problem.contours.xy.values, lines = [];
      let d = "";
      for (let i = 0; i < xy.length; i += 2) {
        if (xy[i] === 65535) { lines.push(d); d = ""; continue; }
        const x = x0 + xy[i] / 65534 * (x1 - x0), y = y0 + xy[i + 1] / 65534 * (y1 - y0);
        d += `${d ? "L" : "M"}${round(f.x(x))},${round(f.y(y))}`;
      }
      f.contours = lines.join("");
      frames.set(key, f);
      return f;
    }

    function drawPlot(container, which, maxWidth, maxHeight, labels) {
      const p = state.problem, problem = problems[p];
      const f = frame(problem, maxWidth, maxHeight);
      container.textContent = "";
      const plot = svg("svg", {
        class: "path-plot", width: round(f.w), height: round(f.h), viewBox: `0 0 ${round(f.w)} ${round(f.h)}`,
        role: "img", "aria-label": `paths on ${problem.name}`, "data-problem": problem.name,
        "data-window": problem.window.join(" "),
      }, container);
      const clipId = `${id}-${container.dataset.slot}-clip`;
      svg("rect", { width: round(f.w), height: round(f.h) }, svg("clipPath", { id: clipId }, plot));
      svg("rect", { class: "frame", width: round(f.w), height: round(f.h) }, plot);
      const inside = svg("g", { "clip-path": `url(#${clipId})` }, plot);
      svg("path", { class: "contour", d: f.contours }, inside);
      for (const m of problem.minima) marker(inside, "plus", f.x(m[0]), f.y(m[1]), 5, "#000", { class: "minimum" });
      marker(inside, "circle", f.x(problem.start[0]), f.y(problem.start[1]), 3.5, "#777", { class: "start" });
      for (const o of which) {
        const s = style(o), n = state.lr[o], step = state.step[o];
        const data_xy = [], pixels = [];
        for (let t = 0; t <= step; t++) {
          const [x, y] = position(p, o, n, t);
          if (!Number.isFinite(x) || !Number.isFinite(y)) break;
          data_xy.push(`${x},${y}`);
          pixels.push(`${round(f.x(x))},${round(f.y(y))}`);
        }
        svg("polyline", {
          class: "path", points: pixels.join(" "), fill: "none", stroke: s.colour, "stroke-width": 1.8,
          "stroke-dasharray": s.dash, "data-optimizer": optimizers[o].label, "data-problem": problem.name,
          "data-lr-index": n, "data-learning-rate": String(lrOf(n)), "data-step": step,
          "data-xy": data_xy.join(" "),
        }, inside);
        pixels.forEach((point, t) => {
          const [x, y] = point.split(",").map(Number);
          marker(inside, s.marker, x, y, t === pixels.length - 1 ? 5 : 2.6, s.colour, { class: t === pixels.length - 1 ? "current" : "step" });
        });
        if (labels && pixels.length) {
          const [x, y] = pixels[pixels.length - 1].split(",").map(Number);
          svg("text", { x: round(Math.min(f.w - 4, x + 7)), y: round(y - 6), class: "end-label",
            "text-anchor": x + 7 > f.w - 60 ? "end" : "start" }, inside).textContent = optimizers[o].name;
        }
      }
    }

    function drawSweep(panel, o) {
      const p = state.problem, problem = problems[p];
      const gaps = [];
      for (let n = 0; n < N; n++) {
        const gap = scalar(data.final_loss, p, o, n) - problem.f_star;
        gaps.push(scalar(data.diverged, p, o, n) ? NaN : Math.max(gap, 1e-12));
      }
      let [low, high] = finiteRange([gaps]);
      if (!Number.isFinite(low)) { low = 1e-12; high = 1; }
      low = Math.pow(10, Math.floor(Math.log10(low))); high = Math.pow(10, Math.ceil(Math.log10(high)));
      if (high <= low) high = low * 10;
      panel.sweep.textContent = "";
      const c = chart(panel.sweep, {
        id: `${id}-sweep-${o}`, width: 340, height: 130, x: [lrOf(0), lrOf(N - 1)], xLog: true,
        y: [low, high], yLog: true, xLabel: "learning rate", yLabel: "final f − f*",
        label: `final loss against learning rate, ${optimizers[o].name} on ${problem.name}`,
      });
      const s = style(o);
      svg("path", { d: linePath(gaps.map((g, n) => [c.x(lrOf(n)), c.y(g)])), fill: "none", stroke: s.colour, "stroke-width": 1.4 }, c.plot);
      gaps.forEach((g, n) => {
        if (Number.isNaN(g)) svg("path", { d: markerPath("cross", round(c.x(lrOf(n))), c.top + 4, 2.5), stroke: "#a40000", "stroke-width": 1, class: "diverged-mark" }, c.plot);
      });
      const n = state.lr[o], px = round(c.x(lrOf(n)));
      svg("line", { x1: px, x2: px, y1: c.top, y2: c.top + c.h, stroke: s.colour, "stroke-width": 1 }, c.top_layer);
      if (!Number.isNaN(gaps[n])) marker(c.top_layer, s.marker, px, c.y(gaps[n]), 4, s.colour);
    }

    const panelsByOptimizer = optimizers.map((opt, o) => {
      const s = style(o);
      const panel = html("figure", { class: "panel", "data-optimizer": opt.label }, panels);
      const heading = html("h3", {}, panel);
      sample(heading, s);
      html("span", {}, heading, opt.name);
      const plot = html("div", { class: "plot", "data-slot": `panel-${o}` }, panel);
      const sweep = html("div", { class: "sweep" }, panel);
      const lr = slider(panel, `${id}-lr-${o}`, "Learning rate", N - 1, state.lr[o], (i) => fmt(lrOf(i)));
      const step = slider(panel, `${id}-step-${o}`, "Step", S, state.step[o], (t) => `${t} / ${S}`);
      lr.input.classList.add("learning-rate");
      step.input.classList.add("step");
      const readout = html("p", { class: "readout", role: "status" }, panel);
      lr.input.addEventListener("input", () => { state.lr[o] = Number(lr.input.value); lr.show(); draw(); });
      step.input.addEventListener("input", () => { state.step[o] = Number(step.input.value); step.show(); draw(); });
      return { panel, plot, sweep, lr, step, readout };
    });
    overlayPlot.dataset.slot = "overlay";

    function readout(o) {
      const p = state.problem, n = state.lr[o], t = state.step[o];
      const box = panelsByOptimizer[o].readout;
      const final = scalar(data.final_loss, p, o, n), diverged = scalar(data.diverged, p, o, n) === 1;
      const [x, y] = position(p, o, n, t);
      box.textContent = "";
      box.dataset.finalLoss = String(final);
      box.dataset.diverged = String(diverged);
      html("span", {}, box, `at step ${t}: (${fmt(x)}, ${fmt(y)})`);
      html("span", {}, box, `final loss ${fmt(final)}`);
      if (diverged) html("span", { class: "diverged-flag" }, box, "⚠ diverged");
    }

    function draw() {
      const problem = problems[state.problem];
      description.textContent = `${problem.name}: ${problem.description}; start (${problem.start.join(", ")}), ` +
        `${S} steps, ${N} learning rates from ${fmt(lrOf(0))} to ${fmt(lrOf(N - 1))} (log scale). ` +
        "+ marks the minima; the large marker is the current step.";
      overlayBox.hidden = !state.overlay;
      if (state.overlay) drawPlot(overlayPlot, optimizers.map((_, o) => o), 720, 460, true);
      panelsByOptimizer.forEach((panel, o) => {
        panel.plot.hidden = state.overlay;
        if (state.overlay) panel.plot.textContent = "";
        else drawPlot(panel.plot, [o], 340, 260, false);
        drawSweep(panel, o);
        readout(o);
      });
    }

    select.addEventListener("change", () => { state.problem = select.selectedIndex; draw(); });
    overlay.addEventListener("change", () => { state.overlay = overlay.checked; draw(); });
    preset.addEventListener("click", () => {
      state.problem = Math.max(0, problems.findIndex((p) => p.name === data.preset_problem));
      select.selectedIndex = state.problem;
      optimizers.forEach((opt, o) => {
        state.lr[o] = opt.preset; state.step[o] = S;
        const panel = panelsByOptimizer[o];
        panel.lr.input.value = opt.preset; panel.lr.show();
        panel.step.input.value = S; panel.step.show();
      });
      draw();
    });
    draw();
  }

  /* ------------------------------------------------------------------ MNIST */

  function lossCurves(root, data, id) {
    const series = data.series, names = series.map((s) => s.label);
    const count = series[0].raw.values.length;
    const controls = html("div", { class: "controls" }, root);
    const toggleLabel = html("label", {}, controls);
    const smoothed = html("input", { type: "checkbox", class: "smoothed-toggle", checked: true }, toggleLabel);
    toggleLabel.append(" smoothed (the tutorial's Kaiser window of 11)");
    const box = html("div", { class: "chart" }, root);
    const reader = html("div", {}, root);
    const out = html("p", { class: "readout", role: "status", "aria-live": "polite" }, root);
    legend(root, names);
    let control = null, current = 0;

    function draw() {
      const kind = smoothed.checked ? "smoothed" : "raw";
      const curves = series.map((s) => s[kind].values);
      const [, high] = finiteRange(curves);
      const tail = curves.flatMap((v) => Array.from(v.slice(Math.floor(count / 2)))).filter(Number.isFinite);
      const top = tail.length && Math.max(...tail) < 1 ? 1 : Math.ceil(high) || 1;
      box.textContent = "";
      const c = chart(box, {
        id: `${id}-loss`, width: 720, height: 340, x: [0, Math.max(1, count - 1)], y: [0, top],
        xLabel: "iteration", yLabel: `train loss (${kind})`, label: `MNIST train loss, ${kind}`,
      });
      c.nearest = (px) => Math.max(0, Math.min(count - 1, Math.round(c.invertX(px))));
      curves.forEach((values, i) => {
        const s = style(i);
        svg("path", {
          class: "curve", d: linePath(Array.from(values, (v, t) => [c.x(t), c.y(v)])), fill: "none",
          stroke: s.colour, "stroke-width": 1.5, "stroke-dasharray": s.dash, "data-series": names[i], "data-kind": kind,
        }, c.plot);
        const every = Math.max(1, Math.round(count / 10));
        for (let t = 0; t < count; t += every) if (Number.isFinite(values[t])) marker(c.plot, s.marker, c.x(t), c.y(values[t]), 3.5, s.colour);
      });
      reader.textContent = "";
      control = readable(c, reader, `${id}-loss`, count, "Iteration", (t) => {
        current = t;
        const px = round(c.x(t));
        c.guide.setAttribute("x1", px); c.guide.setAttribute("x2", px);
        out.textContent = "";
        out.dataset.iteration = String(t);
        out.dataset.kind = kind;
        html("span", {}, out, `iteration ${t}`);
        curves.forEach((values, i) => {
          html("span", { "data-series": names[i], "data-value": String(values[t]) }, out, `${names[i]} ${fmt(values[t], 4)}`);
        });
        return String(t);
      });
      control.input.value = current;
      control.show();
    }
    smoothed.addEventListener("change", draw);
    draw();
  }

  function mnistSweep(root, data, id) {
    const values = data.values.values, seeds = data.seeds;
    const loss = data.final_loss, accuracy = data.test_accuracy;
    const at = (array, i, k) => array.values[offset(array.shape, [i, k])];
    const perSeed = seeds.map((_, k) => Array.from(values, (_, i) => at(loss, i, k)));
    const high = finiteRange(perSeed)[1];
    const box = html("div", { class: "chart" }, root);
    const reader = html("div", {}, root);
    const out = html("p", { class: "readout", role: "status", "aria-live": "polite" }, root);
    const names = seeds.map((seed) => `seed ${seed}`);
    legend(root, names);
    const span = values.length > 1 ? [values[0], values[values.length - 1]] : [values[0] / 2, values[0] * 2];
    const c = chart(box, {
      id: `${id}-sweep`, width: 720, height: 320, x: span, xLog: data.log_x, pad: 0.04,
      y: [0, Number.isFinite(high) ? high * 1.08 : 1], right: 24,
      xLabel: data.axis + (data.others.length ? ` (mean over ${data.others.join(", ")})` : ""),
      yLabel: `final train loss, ${data.iterations} it.`, label: `${data.optimizer}: final loss against ${data.axis}`,
    });
    c.nearest = (px) => {
      let best = 0;
      values.forEach((v, i) => { if (Math.abs(c.x(v) - px) < Math.abs(c.x(values[best]) - px)) best = i; });
      return best;
    };
    perSeed.forEach((ys, k) => {
      const s = style(k);
      svg("path", {
        class: "curve", d: linePath(ys.map((y, i) => [c.x(values[i]), c.y(y)])), fill: "none", stroke: s.colour,
        "stroke-width": 1.6, "stroke-dasharray": s.dash, "data-series": names[k],
        "data-xy": ys.map((y, i) => `${values[i]},${y}`).join(" "),
      }, c.plot);
      ys.forEach((y, i) => {
        if (Number.isFinite(y)) marker(c.plot, s.marker, c.x(values[i]), c.y(y), 4, s.colour);
        else svg("text", { x: round(c.x(values[i])), y: c.top + 12, "text-anchor": "middle", class: "diverged-mark" }, c.plot).textContent = "diverged";
      });
    });
    const control = readable(c, reader, `${id}-sweep`, values.length, data.axis, (i) => {
      const px = round(c.x(values[i]));
      c.guide.setAttribute("x1", px); c.guide.setAttribute("x2", px);
      out.textContent = "";
      out.dataset.index = String(i);
      html("span", {}, out, `${data.axis} ${fmt(values[i])}`);
      seeds.forEach((seed, k) => {
        const value = at(loss, i, k);
        html("span", { "data-series": names[k], "data-value": String(value) }, out,
          `seed ${seed}: loss ${Number.isFinite(value) ? fmt(value, 4) : "diverged"}, test accuracy ${fmt(at(accuracy, i, k), 4)}`);
      });
      return fmt(values[i]);
    });
    control.show();
  }

  /* ------------------------------------------------------------------ start */

  const VIEWS = {
    two_d: twoD, loss_curves: lossCurves, mnist_sweep: mnistSweep,
    leaderboard: leaderboardView({ html, svg, chart, linePath, readable, legend, style, marker, fmt, round, offset, finiteRange }),
  };

  for (const element of document.querySelectorAll("[data-view]")) {
    const draw = VIEWS[element.dataset.view];
    const source = element.querySelector('script[type="application/json"]');
    if (!draw || !source) continue;
    draw(element, decode(JSON.parse(source.textContent)), element.id || "view");
  }
  document.body.dataset.ready = "true";
})();
