// The browser side of report.html (plain ES2020, no modules, no network): reads the plot data that
// harness/report/html.ts embedded as JSON in <script id="faultline-data">, and draws each plot with
// uPlot (inlined before this script). Every time plot shades the fault windows. When a plot has drawn,
// window.faultlineReport.plots[name] says how many points (or bars) each of its series holds, so a
// test (and a curious reader in the console) can see that the plots are not empty.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('faultline-data').textContent);
  var R = (window.faultlineReport = { ready: false, plots: {}, errors: [], renderMs: null, timings: {} });
  var t0 = performance.now();

  var TYPE_COLORS = {
    send: { ok: '#2e9e44', fail: '#d62728', info: '#ff9f0e', pending: '#999999' },
    poll: { ok: '#1f77b4', fail: '#9467bd', info: '#e377c2', pending: '#999999' },
    commit: { ok: '#17becf', fail: '#8c564b', info: '#bcbd22', pending: '#999999' },
  };
  var OUTCOME_COLORS = { ok: '#2e9e44', fail: '#d62728', info: '#ff9f0e', pending: '#999999' };
  var OUTCOMES = ['ok', 'fail', 'info', 'pending'];
  var FAULT_COLORS = { kill: '214,39,40', pause: '255,159,14', partition: '31,119,180', stop: '140,86,75', 'power-loss': '148,103,189', clock: '23,190,207' };
  var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

  function colorOf(f, type) {
    return (TYPE_COLORS[f] || OUTCOME_COLORS)[type] || '#555555';
  }
  function faultRgb(fault) {
    var base = String(fault).split('-')[0];
    return FAULT_COLORS[fault] || FAULT_COLORS[base] || '120,120,120';
  }

  function fmtMs(ms) {
    if (ms == null || !isFinite(ms)) return '-';
    var a = Math.abs(ms);
    if (a < 1) return +a.toFixed(2) + ' ms';
    if (a < 10) return +a.toFixed(1) + ' ms';
    if (a < 1000) return Math.round(a) + ' ms';
    if (a < 60000) return +(a / 1000).toFixed(a < 10000 ? 2 : 1) + ' s';
    var s = Math.round(a / 1000);
    return Math.floor(s / 60) + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
  }
  function fmtSec(ms) {
    return ms == null ? '' : +(ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
  }
  function fmtCount(n) {
    if (n == null || !isFinite(n)) return '-';
    var r = Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n) : +n.toFixed(1);
    return r.toLocaleString('en-US');
  }

  function widthOf(el) {
    return Math.max(320, Math.floor(el.clientWidth || 900));
  }

  /** Shade every fault window behind the series (a drawClear hook). */
  function shadeFaults(u) {
    var ctx = u.ctx, b = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.left, b.top, b.width, b.height);
    ctx.clip();
    for (var i = 0; i < D.faults.length; i++) {
      var w = D.faults[i];
      var x0 = u.valToPos(w.startMs, 'x', true), x1 = u.valToPos(w.endMs, 'x', true);
      if (x1 < b.left || x0 > b.left + b.width) continue;
      ctx.fillStyle = 'rgba(' + faultRgb(w.fault) + ',0.14)';
      ctx.fillRect(x0, b.top, Math.max(1, x1 - x0), b.height);
    }
    ctx.restore();
  }

  var timeAxis = { label: 'time since the run started', values: function (u, vals) { return vals.map(fmtSec); } };
  var plots = [];
  var sync = uPlot.sync('faultline-time');

  function noData(el, why) {
    el.classList.add('empty');
    el.textContent = why;
  }

  /** Records, once the plot has drawn, how many non-null points each series holds. */
  function recorder(name, data, labels, extra) {
    return function () {
      var series = {};
      for (var i = 1; i < data.length; i++) {
        var n = 0, ys = data[i];
        for (var j = 0; j < ys.length; j++) if (ys[j] != null) n++;
        series[labels[i - 1]] = n;
      }
      R.plots[name] = Object.assign({ series: series, drawn: true }, extra ? extra() : {});
    };
  }

  function pointsSeries(label, color) {
    return { label: label, stroke: color, fill: color, width: 0, paths: function () { return null; }, points: { show: true, size: 4, width: 0, fill: color, stroke: color, space: 0 } };
  }

  /** Series of [x, y] point lists as uPlot's aligned data: one sorted x array, nulls elsewhere. */
  function align(lists) {
    var all = [];
    lists.forEach(function (pts, s) { for (var i = 0; i < pts.length; i++) all.push([pts[i][0], pts[i][1], s]); });
    all.sort(function (a, b) { return a[0] - b[0]; });
    var xs = new Array(all.length);
    var ys = lists.map(function () { return new Array(all.length).fill(null); });
    for (var i = 0; i < all.length; i++) {
      xs[i] = all[i][0];
      ys[all[i][2]][i] = all[i][1];
    }
    return [xs].concat(ys);
  }

  function make(name, el, opts, data, labels, extra) {
    opts.width = widthOf(el);
    opts.hooks = opts.hooks || {};
    (opts.hooks.draw = opts.hooks.draw || []).push(recorder(name, data, labels, extra));
    var u = new uPlot(opts, data, el);
    plots.push({ u: u, el: el });
    return u;
  }

  function latencyPlot() {
    var el = document.getElementById('plot-latency');
    var series = D.latency.filter(function (s) { return s.points.length > 0; });
    if (series.length === 0) return noData(el, 'No completed client ops in this history.');
    var data = align(series.map(function (s) { return s.points.map(function (p) { return [p[0], Math.max(0.01, p[1])]; }); }));
    var labels = series.map(function (s) { return s.f + ' ' + s.type; });
    make('latency', el, {
      height: 340,
      scales: { x: { time: false, range: [0, Math.max(1, D.endMs)] }, y: { distr: 3, log: 10 } },
      axes: [timeAxis, { label: 'latency', values: function (u, vals) { return vals.map(fmtMs); }, size: 70 }],
      series: [{ label: 'invoked at', value: function (u, v) { return fmtSec(v); } }].concat(series.map(function (s, i) { return pointsSeries(labels[i], colorOf(s.f, s.type)); })),
      legend: { live: false },
      cursor: { sync: { key: sync.key }, points: { show: false } },
      hooks: { drawClear: [shadeFaults] },
    }, data, labels);
  }

  function throughputPlot() {
    var el = document.getElementById('plot-throughput');
    var T = D.throughput;
    if (T.series.length === 0) return noData(el, 'No completed client ops in this history.');
    var data = [T.tMs].concat(T.series.map(function (s) { return s.opsPerS; }));
    var labels = T.series.map(function (s) { return s.f + ' ' + s.type; });
    make('throughput', el, {
      height: 260,
      scales: { x: { time: false, range: [0, Math.max(1, D.endMs)] } },
      axes: [timeAxis, { label: 'ops per second', values: function (u, vals) { return vals.map(fmtCount); }, size: 60 }],
      series: [{ label: 'time', value: function (u, v) { return fmtSec(v); } }].concat(T.series.map(function (s, i) {
        return { label: labels[i], stroke: colorOf(s.f, s.type), width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), value: function (u, v) { return v == null ? '-' : fmtCount(v) + '/s'; } };
      })),
      cursor: { sync: { key: sync.key } },
      hooks: { drawClear: [shadeFaults] },
    }, data, labels);
  }

  function lagPlot() {
    var el = document.getElementById('plot-lag');
    var pts = D.lag;
    if (pts.length === 0) return noData(el, 'Nothing was acknowledged, so there is no lag to show.');
    var data = [pts.map(function (p) { return p.tMs; }), pts.map(function (p) { return p.unseen; }), pts.map(function (p) { return p.lagMs; })];
    var labels = ['unseen', 'lag'];
    make('lag', el, {
      height: 240,
      scales: { x: { time: false, range: [0, Math.max(1, D.endMs)] }, n: { range: function (u, mn, mx) { return [0, Math.max(1, mx)]; } }, ms: { range: function (u, mn, mx) { return [0, Math.max(1, mx)]; } } },
      axes: [timeAxis, { scale: 'n', label: 'acknowledged, not yet read', values: function (u, vals) { return vals.map(fmtCount); }, size: 60 }, { scale: 'ms', side: 1, label: 'age of the oldest', values: function (u, vals) { return vals.map(fmtMs); }, grid: { show: false }, size: 70 }],
      series: [
        { label: 'time', value: function (u, v) { return fmtSec(v); } },
        { label: 'unseen', scale: 'n', stroke: '#d62728', width: 1.5, value: function (u, v) { return fmtCount(v); } },
        { label: 'lag', scale: 'ms', stroke: '#1f77b4', width: 1.5, dash: [4, 3], value: function (u, v) { return fmtMs(v); } },
      ],
      cursor: { sync: { key: sync.key } },
      hooks: { drawClear: [shadeFaults] },
    }, data, labels);
  }

  var ordersPlot = null;
  function drawOrders(k) {
    var el = document.getElementById('plot-orders');
    var info = document.getElementById('orders-info');
    if (ordersPlot !== null) {
      plots = plots.filter(function (p) { return p.u !== ordersPlot; });
      ordersPlot.destroy();
      ordersPlot = null;
    }
    var K = D.orders.keys[k];
    if (!K || K.points.length === 0) return noData(el, 'No offsets were read or acknowledged.');
    var lists = K.sources.map(function () { return []; });
    for (var i = 0; i < K.points.length; i++) lists[K.points[i][2]].push([K.points[i][0], K.points[i][1]]);
    var data = align(lists);
    var labels = K.sources.map(function (s) { return s === 'ack' ? 'send ack' : 'read by ' + s; });
    info.textContent = fmtCount(K.observations) + ' observations' + (K.sampled ? ' (' + fmtCount(K.points.length) + ' shown: every conflict, the rest sampled by offset)' : '') +
      '; ' + fmtCount(K.conflictingOffsets) + ' offsets with two or more values, ' + fmtCount(K.repeatedValues) + ' values at two or more offsets.';
    ordersPlot = make('orders', el, {
      height: 320,
      scales: { x: { time: false } },
      axes: [{ label: 'offset of ' + K.key, values: function (u, vals) { return vals.map(fmtCount); } }, { label: 'value', values: function (u, vals) { return vals.map(fmtCount); }, size: 70 }],
      series: [{ label: 'offset', value: function (u, v) { return fmtCount(v); } }].concat(K.sources.map(function (s, i) {
        var c = s === 'ack' ? '#222222' : PALETTE[i % PALETTE.length];
        var ps = pointsSeries(labels[i], c);
        if (s === 'ack') ps.points.size = 7, ps.points.fill = 'rgba(0,0,0,0)', ps.points.width = 1;
        return ps;
      })),
      legend: { live: false },
    }, data, labels, function () { return { key: K.key }; });
  }
  function ordersView() {
    var sel = document.getElementById('orders-key');
    if (D.orders.keys.length === 0) return noData(document.getElementById('plot-orders'), 'No offsets were read or acknowledged.');
    D.orders.keys.forEach(function (K, i) {
      var o = document.createElement('option');
      o.value = String(i);
      o.textContent = K.key + (K.conflictingOffsets + K.repeatedValues > 0 ? ' (' + (K.conflictingOffsets + K.repeatedValues) + ' to look at)' : '');
      sel.appendChild(o);
    });
    sel.addEventListener('change', function () { guard('orders', function () { drawOrders(Number(sel.value)); }); });
    drawOrders(0);
  }

  function timelinePlot() {
    var el = document.getElementById('plot-timeline');
    var TL = D.timeline;
    if (TL.bars.length === 0) return noData(el, 'No client ops in this history.');
    var n = TL.lanes.length;
    var byLane = TL.lanes.map(function () { return []; });
    TL.bars.forEach(function (b) { byLane[b[0]].push(b); });
    var readout = document.getElementById('timeline-readout');
    var drawnBars = 0;
    function drawBars(u) {
      var ctx = u.ctx, b = u.bbox;
      var laneH = b.height / n;
      var h = Math.max(1, laneH * 0.7);
      var xmin = u.scales.x.min, xmax = u.scales.x.max;
      ctx.save();
      ctx.beginPath();
      ctx.rect(b.left, b.top, b.width, b.height);
      ctx.clip();
      drawnBars = 0;
      for (var t = 0; t < OUTCOMES.length; t++) {
        ctx.fillStyle = OUTCOME_COLORS[OUTCOMES[t]];
        for (var i = 0; i < TL.bars.length; i++) {
          var bar = TL.bars[i];
          if (bar[3] !== t || bar[2] < xmin || bar[1] > xmax) continue;
          var x0 = u.valToPos(bar[1], 'x', true), x1 = u.valToPos(bar[2], 'x', true);
          var yc = u.valToPos(bar[0], 'lane', true);
          ctx.fillRect(x0, yc - h / 2, Math.max(1, x1 - x0), h);
          drawnBars++;
        }
      }
      ctx.restore();
      R.plots.timeline = { series: { bars: drawnBars }, drawn: true, lanes: n };
    }
    function hover(u) {
      var l = u.cursor.left, tp = u.cursor.top;
      if (l == null || l < 0) return;
      var t = u.posToVal(l, 'x'), lane = Math.round(u.posToVal(tp, 'lane'));
      var slack = (u.scales.x.max - u.scales.x.min) / Math.max(1, u.bbox.width) * 3;
      var best = null;
      (byLane[lane] || []).forEach(function (bar) { if (bar[1] - slack <= t && t <= bar[2] + slack) best = bar; });
      if (best === null) { readout.textContent = '\u00a0'; return; }
      readout.textContent = 'process ' + TL.lanes[best[0]] + ': ' + TL.fs[best[4]] + ' ' + OUTCOMES[best[3]] + ', ' + fmtSec(best[1]) + ' to ' + fmtSec(best[2]) + ' (' + fmtMs(best[2] - best[1]) + ')' +
        (best[6] > 1 ? ', ' + fmtCount(best[6]) + ' ops merged from line ' + fmtCount(best[5]) : ', line ' + fmtCount(best[5]));
    }
    var opts = {
      width: widthOf(el),
      height: Math.min(900, Math.max(160, n * 16 + 60)),
      scales: { x: { time: false, range: [0, Math.max(1, D.endMs)] }, lane: { range: [n - 0.5, -0.5] } },
      axes: [timeAxis, { scale: 'lane', label: 'process', splits: function () { return TL.lanes.map(function (_, i) { return i; }); }, values: function (u, vals) { return vals.map(function (v) { return TL.lanes[v] == null ? '' : TL.lanes[v]; }); }, grid: { show: false }, size: 50 }],
      series: [{ label: 'time' }, { label: 'ops', scale: 'lane', paths: function () { return null; }, points: { show: false } }],
      legend: { show: false },
      cursor: { sync: { key: sync.key }, y: true, points: { show: false } },
      hooks: { drawClear: [shadeFaults], draw: [drawBars], setCursor: [hover] },
    };
    var u = new uPlot(opts, [[0, Math.max(1, D.endMs)], [null, null]], el);
    plots.push({ u: u, el: el });
  }

  function guard(name, fn) {
    var start = performance.now();
    try {
      fn();
      R.timings[name] = Math.round(performance.now() - start);
    } catch (err) {
      R.errors.push(name + ': ' + (err && err.message));
      console.error('faultline report: the ' + name + ' plot failed: ' + (err && err.stack || err));
    }
  }

  guard('latency', latencyPlot);
  guard('throughput', throughputPlot);
  guard('lag', lagPlot);
  guard('orders', ordersView);
  guard('timeline', timelinePlot);

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      plots.forEach(function (p) { p.u.setSize({ width: widthOf(p.el), height: p.u.height }); });
    }, 100);
  });
  R.renderMs = Math.round(performance.now() - t0);
  R.ready = true;
})();
