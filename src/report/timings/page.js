"use strict";
// Draws the report from DATA (see page.rs): times are seconds since the
// build started. Every text goes in through textContent or an attribute.
(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const OUTCOMES = [
    ["executed", "Executed"],
    ["fresh", "Fresh"],
    ["local-hit", "Local cache hit"],
    ["remote-hit", "Remote cache hit"],
    ["failed", "Failed"],
  ];
  const LABEL = Object.fromEntries(OUTCOMES);
  const WIDTH = 1000; // plot width in pixels
  const ROW = 18;
  const TOP = 22;

  function html(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function secs(s) {
    if (s === 0) return "0s";
    if (s >= 10) return s.toFixed(1) + "s";
    if (s >= 1) return s.toFixed(2) + "s";
    return (s * 1000).toFixed(1) + "ms";
  }

  function row(table, head, value, stat) {
    const tr = html("tr");
    tr.appendChild(html("th", {}, head));
    const td = html("td", stat ? { "data-stat": stat } : {}, String(value));
    tr.appendChild(td);
    table.appendChild(tr);
  }

  // What the timeline holds, counted from its actions.
  function counts() {
    const c = { executed: 0, fresh: 0, "local-hit": 0, "remote-hit": 0, failed: 0 };
    const tests = { total: 0, run: 0, cached: 0, failed: 0 };
    for (const a of DATA.actions) {
      c[a.outcome] += 1;
      if (a.kind === "test-run") {
        tests.total += 1;
        if (a.outcome === "executed" || a.outcome === "failed") tests.run += 1;
        else tests.cached += 1;
        if (a.outcome === "failed") tests.failed += 1;
      }
    }
    return { c, tests };
  }

  function maxRunning() {
    return DATA.concurrency.reduce((m, p) => Math.max(m, p[1]), 0);
  }

  function totals() {
    const t = document.getElementById("totals");
    row(t, "Started", DATA.started);
    row(t, "Profile", DATA.profile);
    row(t, "Result", DATA.success ? "success" : "failed", "result");
    row(t, "Total time", secs(DATA.elapsed), "elapsed");
    row(t, "Actions", DATA.summary.actions_total, "actions-total");
    row(t, "Actions run or checked", DATA.actions.length, "actions-shown");
    row(t, "Not run (the build failed first)", DATA.summary.skipped, "skipped");
    row(t, "Max concurrency", maxRunning(), "max-concurrency");
    row(t, "Critical path", secs(DATA.critical.duration), "critical-duration");
  }

  function stats() {
    const { c, tests } = counts();
    const t = document.getElementById("stats");
    const s = DATA.summary;
    row(t, "Executed", c.executed, "executed");
    row(t, "Fresh", c.fresh, "fresh");
    row(t, "Local cache hits", c["local-hit"], "local-hits");
    row(t, "Remote cache hits", c["remote-hit"], "remote-hits");
    row(t, "Failed", c.failed, "failed");
    row(t, "Uncacheable", s.uncacheable.length, "uncacheable");
    if (s.tests) {
      row(t, "Test runs", tests.total, "tests-total");
      row(t, "Test runs run", tests.run, "tests-run");
      row(t, "Test runs cached", tests.cached, "tests-cached");
      row(t, "Test runs failed", tests.failed, "tests-failed");
    }
    if (s.remote) {
      const mib = (b) => (b / (1024 * 1024)).toFixed(1) + " MiB";
      row(t, "Remote lookups hit / missed", s.remote.hits + " / " + s.remote.misses, "remote-lookups");
      row(t, "Remote down / up", mib(s.remote.bytes_down) + " / " + mib(s.remote.bytes_up), "remote-bytes");
    }
    // The timeline and the build's own summary must tell the same story.
    const mismatched =
      c.executed !== s.executed ||
      c.fresh !== s.fresh ||
      c["local-hit"] !== s.local_hits ||
      c["remote-hit"] !== s.remote_hits ||
      (s.tests && (tests.run !== s.tests.run || tests.cached !== s.tests.cached));
    if (mismatched) {
      t.after(html("p", { class: "warning", id: "mismatch" },
        "These counts differ from the build's summary: " + JSON.stringify(s)));
    }
    if (s.uncacheable.length > 0) {
      const div = document.getElementById("uncacheable");
      div.appendChild(html("p", {}, "Uncacheable actions:"));
      const ul = html("ul");
      for (const u of s.uncacheable) ul.appendChild(html("li", {}, u.action + ": " + u.reason));
      div.appendChild(ul);
    }
  }

  function legend() {
    const l = document.getElementById("legend");
    const item = (cls, text) => {
      const span = html("span", { "data-legend": cls });
      span.appendChild(html("span", { class: "swatch " + cls }));
      span.appendChild(document.createTextNode(text));
      l.appendChild(span);
    };
    for (const [cls, text] of OUTCOMES) item(cls, text);
    item("critical", "On the critical path");
    item("wait", "Ready, waiting for a job slot");
    const c = document.getElementById("concurrency-legend");
    for (const [cls, text] of [["running", "Running"], ["waiting", "Ready, waiting"]]) {
      const span = html("span", { "data-legend": cls });
      span.appendChild(html("span", { class: "swatch " + cls }));
      span.appendChild(document.createTextNode(text));
      c.appendChild(span);
    }
  }

  // A round step for about ten ticks over `end` seconds.
  function tickStep(end) {
    const raw = Math.max(end, 0.001) / 10;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
    return 10 * p;
  }

  function axis(g, end, scale, height) {
    const step = tickStep(end);
    const a = svg("g", { class: "axis" });
    for (let t = 0; t <= end + step / 2; t += step) {
      const x = t * scale;
      a.appendChild(svg("line", { x1: x, y1: TOP - 4, x2: x, y2: height }));
      a.appendChild(svg("text", { x: x + 2, y: TOP - 8 }, secs(t)));
    }
    g.appendChild(a);
  }

  function end() {
    return DATA.actions.reduce((m, a) => Math.max(m, a.end), Math.max(DATA.elapsed, 0.001));
  }

  function timeline() {
    const s = document.getElementById("timeline");
    const last = end();
    const scale = WIDTH / last;
    const height = TOP + DATA.actions.length * ROW + 6;
    s.setAttribute("width", WIDTH + 420);
    s.setAttribute("height", height);
    axis(s, last, scale, height);
    const y = (i) => TOP + i * ROW;
    DATA.actions.forEach((a, i) => {
      const dur = a.end - a.start;
      if (a.start > a.ready) {
        s.appendChild(svg("line", {
          class: "wait", x1: a.ready * scale, x2: a.start * scale,
          y1: y(i) + ROW / 2, y2: y(i) + ROW / 2,
        }));
      }
      const rect = svg("rect", {
        class: "action " + a.outcome + (a.critical ? " critical" : ""),
        x: a.start * scale, y: y(i) + 2,
        width: Math.max(dur * scale, 1.5), height: ROW - 4,
        "data-index": i,
        "data-action": a.name,
        "data-package": a.package,
        "data-kind": a.kind,
        "data-outcome": a.outcome,
        "data-ready": a.ready.toFixed(6),
        "data-start": a.start.toFixed(6),
        "data-duration": dur.toFixed(6),
        "data-critical": a.critical ? "true" : "false",
      });
      rect.appendChild(svg("title", {},
        a.name + " (" + a.package + "): " + LABEL[a.outcome] + ", " + secs(dur) +
        ", started at " + secs(a.start) + ", ready at " + secs(a.ready)));
      s.appendChild(rect);
      s.appendChild(svg("text", {
        x: a.start * scale + Math.max(dur * scale, 1.5) + 4, y: y(i) + ROW - 5,
      }, a.name + " " + secs(dur)));
    });
    const path = DATA.critical.actions;
    for (let k = 1; k < path.length; k++) {
      const from = DATA.actions[path[k - 1]];
      const to = DATA.actions[path[k]];
      s.appendChild(svg("line", {
        class: "critical-link",
        x1: from.end * scale, y1: y(path[k - 1]) + ROW / 2,
        x2: to.start * scale, y2: y(path[k]) + ROW / 2,
      }));
    }
  }

  function concurrency() {
    const s = document.getElementById("concurrency");
    const last = end();
    const scale = WIDTH / last;
    const plot = 160;
    const height = TOP + plot + 10;
    s.setAttribute("width", WIDTH + 60);
    s.setAttribute("height", height);
    axis(s, last, scale, TOP + plot);
    const pts = DATA.concurrency;
    const top = pts.reduce((m, p) => Math.max(m, p[1], p[2]), 1);
    const yOf = (v) => TOP + plot - (v / top) * plot;
    for (let v = 0; v <= top; v += Math.max(1, Math.ceil(top / 5))) {
      s.appendChild(svg("text", { x: WIDTH + 6, y: yOf(v) + 4 }, String(v)));
    }
    const line = (col, cls) => {
      const coords = [];
      pts.forEach((p, k) => {
        if (k > 0) coords.push(p[0] * scale + "," + yOf(pts[k - 1][col]));
        coords.push(p[0] * scale + "," + yOf(p[col]));
      });
      const max = pts.reduce((m, p) => Math.max(m, p[col]), 0);
      s.appendChild(svg("polyline", { class: cls, points: coords.join(" "), "data-max": max }));
    };
    line(1, "running");
    line(2, "waiting");
  }

  function critical() {
    const path = DATA.critical.actions;
    document.getElementById("critical-summary").textContent =
      path.length + " actions, " + secs(DATA.critical.duration) + " of " +
      secs(DATA.elapsed) + " wall time: the longest chain of dependent actions.";
    const ol = document.getElementById("critical-path");
    for (const i of path) {
      const a = DATA.actions[i];
      ol.appendChild(html("li", { "data-action": a.name, "data-index": i },
        a.name + " (" + a.package + "), " + LABEL[a.outcome] + ", " + secs(a.end - a.start)));
    }
  }

  function actions() {
    const t = document.getElementById("actions");
    const head = html("tr");
    for (const h of ["#", "Action", "Package", "Outcome", "Ready", "Start", "Duration", "Critical"]) {
      head.appendChild(html("th", {}, h));
    }
    t.appendChild(head);
    DATA.actions.forEach((a, i) => {
      const tr = html("tr", { "data-outcome": a.outcome });
      tr.appendChild(html("td", { class: "num" }, String(i + 1)));
      tr.appendChild(html("td", {}, a.name));
      tr.appendChild(html("td", {}, a.package));
      tr.appendChild(html("td", {}, LABEL[a.outcome]));
      tr.appendChild(html("td", { class: "num" }, secs(a.ready)));
      tr.appendChild(html("td", { class: "num" }, secs(a.start)));
      tr.appendChild(html("td", { class: "num" }, secs(a.end - a.start)));
      tr.appendChild(html("td", {}, a.critical ? "yes" : ""));
      t.appendChild(tr);
    });
  }

  totals();
  stats();
  legend();
  timeline();
  concurrency();
  critical();
  actions();
  document.body.setAttribute("data-rendered", "true");
})();
