/* jaxopt_lab's report page: the leaderboard view (the Interactive block "leaderboard").
 *
 * Inlined before report.js in the page's one script; report.js calls leaderboardView with its
 * helpers (DOM, charts, hover reading) and draws the view as it draws its own. Data from
 * jaxopt_lab.report.leaderboard_view: (a) the performance profiles rho(tau) of every
 * optimizer, time in steps or seconds (a checkbox), read by hovering or with a tau slider;
 * (b) per workload (a menu), each optimizer's shown trial's validation metric against the
 * step, the target as a dashed line, read by hovering or with an evaluation slider. As in
 * report.js, every value from the data is set as text (textContent) or as an attribute.
 */
function leaderboardView(lab) {
  "use strict";

  const { html, svg, chart, linePath, readable, legend, style, marker, fmt, round, offset, finiteRange } = lab;

  return function leaderboard(root, data, id) {
    const names = data.optimizers, taus = data.taus.values, T = taus.length;
    const controls = html("div", { class: "controls" }, root);
    const unitLabel = html("label", {}, controls);
    const seconds = html("input", { type: "checkbox", class: "seconds-toggle" }, unitLabel);
    unitLabel.append(" time in seconds (else in steps)");
    const profileBox = html("div", { class: "chart" }, root);
    const profileReader = html("div", {}, root);
    const profileOut = html("p", { class: "readout profile-readout", role: "status", "aria-live": "polite" }, root);
    legend(root, names);
    let tauIndex = 0;

    function drawProfiles() {
      const unit = seconds.checked ? "seconds" : "steps";
      const rho = data.profiles[unit];
      const at = (o, k) => rho.values[offset(rho.shape, [o, k])];
      profileBox.textContent = "";
      const c = chart(profileBox, {
        id: `${id}-profile`, width: 720, height: 300, x: [taus[0], taus[T - 1]], y: [-0.03, 1.03], right: 24,
        xLabel: `τ: time to target / the best optimizer's (${unit})`, yLabel: "ρ(τ): fraction of workloads",
        label: `performance profiles, time in ${unit}`,
      });
      c.nearest = (px) => {
        const t = c.invertX(px);
        let best = 0;
        for (let k = 1; k < T; k++) if (Math.abs(taus[k] - t) < Math.abs(taus[best] - t)) best = k;
        return best;
      };
      names.forEach((name, o) => {
        const s = style(o), points = [];
        for (let k = 0; k < T; k++) points.push([c.x(taus[k]), c.y(at(o, k))], [c.x(taus[Math.min(k + 1, T - 1)]), c.y(at(o, k))]);
        svg("path", {
          class: "profile", d: linePath(points), fill: "none", stroke: s.colour, "stroke-width": 1.8,
          "stroke-dasharray": s.dash, "data-series": name, "data-unit": unit,
        }, c.plot);
      });
      profileReader.textContent = "";
      const control = readable(c, profileReader, `${id}-profile`, T, "τ", (k) => {
        tauIndex = k;
        const px = round(c.x(taus[k]));
        c.guide.setAttribute("x1", px); c.guide.setAttribute("x2", px);
        profileOut.textContent = "";
        profileOut.dataset.tau = String(taus[k]);
        profileOut.dataset.unit = unit;
        html("span", {}, profileOut, `τ ${fmt(taus[k], 4)} (${unit})`);
        names.forEach((name, o) => {
          html("span", { "data-series": name, "data-value": String(at(o, k)) }, profileOut, `${name} ρ ${fmt(at(o, k), 3)}`);
        });
        return fmt(taus[k], 4);
      });
      control.input.value = tauIndex;
      control.show();
    }
    seconds.addEventListener("change", drawProfiles);
    drawProfiles();

    const workloads = data.workloads;
    const pick = html("label", { for: `${id}-workload` }, html("div", { class: "controls" }, root), "Workload ");
    const select = html("select", { id: `${id}-workload`, class: "workload" }, pick);
    workloads.forEach((w) => html("option", { value: w.name }, select, w.name));
    const curveBox = html("div", { class: "chart" }, root);
    const curveReader = html("div", {}, root);
    const curveOut = html("p", { class: "readout curve-readout", role: "status", "aria-live": "polite" }, root);
    legend(root, names);

    function drawCurves() {
      const w = workloads[select.selectedIndex], series = w.series;
      const steps = series.reduce((a, s) => (s.steps.values.length > a.length ? s.steps.values : a), []);
      const [low, high] = finiteRange([...series.map((s) => s.metric.values), [w.target]]);
      const log = w.direction === "minimize" && low > 0 && high / low > 100;
      const span = log ? [low / 2, high * 2] : [Math.min(0, low), high * 1.05 || 1];
      curveBox.textContent = "";
      const c = chart(curveBox, {
        id: `${id}-curves`, width: 720, height: 300, x: [0, Math.max(1, steps[steps.length - 1] || 1)],
        y: span, yLog: log, right: 24, xLabel: "step", yLabel: w.metric,
        label: `${w.metric} against step on ${w.name}, each optimizer's shown trial`,
      });
      c.nearest = (px) => {
        const t = c.invertX(px);
        let best = 0;
        steps.forEach((v, i) => { if (Math.abs(v - t) < Math.abs(steps[best] - t)) best = i; });
        return best;
      };
      const ty = round(c.y(w.target));
      svg("line", { class: "target", x1: c.left, x2: c.left + c.w, y1: ty, y2: ty, stroke: "#555", "stroke-dasharray": "5 4", "data-value": String(w.target) }, c.plot);
      svg("text", { x: c.left + c.w - 4, y: ty - 4, "text-anchor": "end", class: "target-label" }, c.plot).textContent = `target ${w.target_text}`;
      series.forEach((s, o) => {
        const st = style(o), xs = s.steps.values, ys = s.metric.values;
        svg("path", {
          class: "curve", d: linePath(Array.from(ys, (y, i) => [c.x(xs[i]), c.y(y)])), fill: "none", stroke: st.colour,
          "stroke-width": 1.6, "stroke-dasharray": st.dash, "data-series": s.optimizer, "data-workload": w.name,
          "data-study": s.study, "data-trial": s.trial, "data-xy": Array.from(ys, (y, i) => `${xs[i]},${y}`).join(" "),
        }, c.plot);
        ys.forEach((y, i) => { if (Number.isFinite(y)) marker(c.plot, st.marker, c.x(xs[i]), c.y(y), 3, st.colour); });
      });
      curveReader.textContent = "";
      const control = readable(c, curveReader, `${id}-curves`, steps.length, "Evaluation", (i) => {
        const px = round(c.x(steps[i]));
        c.guide.setAttribute("x1", px); c.guide.setAttribute("x2", px);
        curveOut.textContent = "";
        curveOut.dataset.step = String(steps[i]);
        curveOut.dataset.workload = w.name;
        html("span", {}, curveOut, `step ${steps[i]}`);
        series.forEach((s) => {
          const j = Array.prototype.indexOf.call(s.steps.values, steps[i]);
          const value = j < 0 ? NaN : s.metric.values[j];
          const reached = s.reached_step === null ? "misses the target" : `reaches it at step ${s.reached_step}`;
          html("span", { "data-series": s.optimizer, "data-value": j < 0 ? "" : String(value) }, curveOut,
            `${s.optimizer} (study ${s.study}, trial ${s.trial}; ${reached}): ${j < 0 ? "stopped" : fmt(value, 4)}`);
        });
        return String(steps[i]);
      });
      control.show();
    }
    select.addEventListener("change", drawCurves);
    drawCurves();
  };
}
