// The browser side of a campaign's or a hunt's report.html (plain ES2020, no network): grouped bar
// charts, drawn with uPlot (inlined before this script), from the JSON in <script id="faultline-data">.
// x is the cell (or bug) index; each series is one bar per cell, placed side by side within the cell.
// window.faultlineReport.plots[name].series says how many bars each series holds once it has drawn.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('faultline-data').textContent);
  var R = (window.faultlineReport = { ready: false, plots: {}, errors: [], renderMs: null });
  var t0 = performance.now();

  function fmtCount(n) {
    return n == null || !isFinite(n) ? '-' : (Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n) : +n.toFixed(1)).toLocaleString('en-US');
  }
  function fmtMs(ms) {
    if (ms == null || !isFinite(ms)) return '-';
    if (ms < 10) return +ms.toFixed(1) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    return +(ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }
  function widthOf(el) {
    return Math.max(320, Math.floor(el.clientWidth || 900));
  }

  /** Grouped bars: series i of n sits at cell + offset i within 80% of the cell's width. */
  function grouped(n) {
    var w = 0.8 / n;
    return function (i) {
      return uPlot.paths.bars({
        disp: {
          x0: { unit: 1, values: function (u) { return u.data[0].map(function (x) { return x - 0.4 + i * w; }); } },
          size: { unit: 1, values: function () { return [w * 0.92]; } },
        },
      });
    };
  }

  function barChart(name, el, groups, axes, height) {
    if (D.labels.length === 0) {
      el.classList.add('empty');
      el.textContent = 'No cells.';
      return;
    }
    var xs = D.labels.map(function (_, i) { return i; });
    var bars = grouped(groups.length);
    var data = [xs].concat(groups.map(function (g) { return g.values; }));
    var series = [{ label: 'cell', value: function (u, v) { return v == null ? '' : D.labels[v]; } }].concat(groups.map(function (g, i) {
      return { label: g.label, scale: g.scale || 'y', fill: g.color, stroke: g.color, width: 0, paths: bars(i), points: { show: false }, value: function (u, v) { return g.fmt ? g.fmt(v) : fmtCount(v); } };
    }));
    var u = new uPlot({
      width: widthOf(el),
      height: height,
      scales: { x: { time: false, range: [-0.5, D.labels.length - 0.5] }, y: { range: function (u, mn, mx) { return [0, Math.max(1, mx)]; } }, ms: { range: function (u, mn, mx) { return [0, Math.max(1, mx)]; } } },
      axes: [{ splits: function () { return xs; }, values: function (u, v) { return v.map(function (i) { return D.labels[i] == null ? '' : D.labels[i]; }); }, grid: { show: false }, size: 60, rotate: 0 }].concat(axes),
      series: series,
      hooks: { draw: [function () {
        var s = {};
        groups.forEach(function (g) { s[g.label] = g.values.filter(function (v) { return v != null; }).length; });
        R.plots[name] = { series: s, drawn: true };
      }] },
    }, data, el);
    window.addEventListener('resize', function () { u.setSize({ width: widthOf(el), height: height }); });
  }

  function guard(name, fn) {
    try {
      fn();
    } catch (err) {
      R.errors.push(name + ': ' + (err && err.message));
      console.error('faultline report: the ' + name + ' chart failed: ' + (err && err.stack || err));
    }
  }

  guard('anomalies', function () {
    barChart('anomalies', document.getElementById('plot-anomalies'), D.bars, [{ label: D.kind === 'hunt' ? 'seconds' : 'count', values: function (u, v) { return v.map(fmtCount); }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7], size: 60 }], 300);
  });
  if (D.kind === 'campaign') {
    guard('availability', function () {
      barChart('availability', document.getElementById('plot-availability'), [
        { label: 'availability', values: D.availability, color: '#2e9e44', fmt: function (v) { return v == null ? '-' : +v.toFixed(2) + '%'; } },
        { label: 'p99 send latency', values: D.p99Ms, color: '#1f77b4', scale: 'ms', fmt: fmtMs },
      ], [
        { label: 'availability', values: function (u, v) { return v.map(function (x) { return x + '%'; }); }, size: 60 },
        { scale: 'ms', side: 1, label: 'p99 send latency', values: function (u, v) { return v.map(fmtMs); }, grid: { show: false }, size: 70 },
      ], 280);
    });
  }
  R.renderMs = Math.round(performance.now() - t0);
  R.ready = true;
})();
