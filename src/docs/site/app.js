// stackc docs: the lineage graph (canvas), search, and a page per node.
// Everything the page shows comes from the two JSON blocks stackc embeds;
// nothing is fetched. User text only ever reaches the page through
// textContent, never as HTML.
(function () {
  "use strict";

  var started = performance.now();
  var G = JSON.parse(document.getElementById("stackc-graph").textContent);
  var N = G.nodes.length;
  var CW = G.cell[0], CH = G.cell[1];
  var BOX_W = CW - 70, BOX_H = CH - 12;

  // Parents and children as compressed adjacency lists.
  function adjacency(from, to) {
    var start = new Int32Array(N + 1), list = new Int32Array(G.edges.length);
    G.edges.forEach(function (e) { start[e[from] + 1]++; });
    for (var i = 0; i < N; i++) start[i + 1] += start[i];
    var fill = start.slice(0, N);
    G.edges.forEach(function (e) { list[fill[e[from]]++] = e[to]; });
    return { start: start, list: list };
  }
  var up = adjacency(1, 0), down = adjacency(0, 1);

  var byId = new Map();
  G.nodes.forEach(function (n, i) { byId.set(n.id, i); n.lower = n.name.toLowerCase(); n.idLower = n.id.toLowerCase(); });

  // Nodes of each layout column, by row, for hit tests.
  var columns = [];
  G.nodes.forEach(function (n, i) { (columns[n.x] = columns[n.x] || []).push(i); });
  columns.forEach(function (c) { c.sort(function (a, b) { return G.nodes[a].y - G.nodes[b].y; }); });

  var details = null, testSql = null;
  // A generic test's SQL is shared among tests that differ only in their
  // node's relation (marker U+0001) and column (U+0002): put them back,
  // the column first, as src/docs/data.rs does.
  function testSqlOf(k, relation, column) {
    return testSql[k].split("\u0002").join(column || "").split("\u0001").join(relation || "");
  }
  function detailsOf(i) {
    if (!details) {
      details = JSON.parse(document.getElementById("stackc-details").textContent);
      testSql = JSON.parse(document.getElementById("stackc-test-sql").textContent);
    }
    return details[i];
  }

  var COLORS = {
    source: "#2da44e", seed: "#8250df", snapshot: "#9a6700", exposure: "#bf3989",
    metric: "#6639ba", semantic_model: "#6639ba", saved_query: "#6639ba",
    view: "#0969da", table: "#0a3069", incremental: "#1b7c83", ephemeral: "#8c959f",
    materialized_view: "#116329", model: "#0969da"
  };
  var LABELS = {
    source: "source", seed: "seed", view: "view", table: "table", incremental: "incremental",
    ephemeral: "ephemeral", materialized_view: "materialized view", snapshot: "snapshot",
    exposure: "exposure", metric: "metric", semantic_model: "semantic model", saved_query: "saved query"
  };
  function colorKey(n) { return n.type === "model" ? (n.materialized || "model") : n.type; }
  function colorOf(n) { return COLORS[colorKey(n)] || "#57606a"; }

  // ---------------------------------------------------------------- view
  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var view = { scale: 1, tx: 0, ty: 0 };
  var width = 0, height = 0, ratio = 1;
  var selected = -1;
  var lineage = new Uint8Array(N); // 1 selected, 2 upstream, 3 downstream
  var matched = new Uint8Array(N);
  var matchCount = 0;
  var pending = false;

  function resize() {
    var r = canvas.getBoundingClientRect();
    ratio = window.devicePixelRatio || 1;
    width = Math.max(1, r.width); height = Math.max(1, r.height);
    canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
    draw();
  }

  function fit() {
    var w = Math.max(1, G.columns * CW - (CW - BOX_W)), h = Math.max(1, G.rows * CH);
    var s = Math.min((width - 40) / w, (height - 40) / h, 1);
    view.scale = s > 0 ? s : 1;
    view.tx = (width - w * view.scale) / 2;
    view.ty = (height - h * view.scale) / 2;
    redraw();
  }

  function zoomAt(factor, sx, sy) {
    var s = Math.min(4, Math.max(0.005, view.scale * factor));
    factor = s / view.scale;
    view.tx = sx - (sx - view.tx) * factor;
    view.ty = sy - (sy - view.ty) * factor;
    view.scale = s;
    redraw();
  }

  // Shows node i with its whole lineage when that fits at a readable
  // scale, else centred at a scale where names are readable.
  function showLineage(i) {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (var k = 0; k < N; k++) {
      if (!lineage[k]) continue;
      var n = G.nodes[k];
      minX = Math.min(minX, n.x * CW); maxX = Math.max(maxX, n.x * CW + BOX_W);
      minY = Math.min(minY, n.y * CH); maxY = Math.max(maxY, n.y * CH + BOX_H);
    }
    var s = Math.min((width - 60) / (maxX - minX), (height - 60) / (maxY - minY), 1);
    var me = G.nodes[i];
    var cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    if (!(s >= 0.45)) { s = Math.max(view.scale, 0.8); cx = me.x * CW + BOX_W / 2; cy = me.y * CH + BOX_H / 2; }
    view.scale = s;
    view.tx = width / 2 - cx * s;
    view.ty = height / 2 - cy * s;
    redraw();
  }

  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  var labels = new Array(N);
  function labelOf(i) {
    if (labels[i] === undefined) {
      var name = G.nodes[i].name, max = BOX_W - 16;
      if (ctx.measureText(name).width > max) {
        var lo = 0, hi = name.length;
        while (lo < hi) {
          var mid = (lo + hi + 1) >> 1;
          if (ctx.measureText(name.slice(0, mid) + "\u2026").width <= max) lo = mid; else hi = mid - 1;
        }
        name = name.slice(0, lo) + "\u2026";
      }
      labels[i] = name;
    }
    return labels[i];
  }

  function draw() {
    var t0 = performance.now();
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (N === 0) {
      ctx.fillStyle = "#656d76"; ctx.font = "14px system-ui, sans-serif";
      ctx.fillText("The selection has no nodes to draw.", 20, 30);
      return;
    }
    var s = view.scale;
    ctx.setTransform(ratio * s, 0, 0, ratio * s, ratio * view.tx, ratio * view.ty);
    // The visible world, with a margin for curves.
    var x0 = -view.tx / s - CW, x1 = (width - view.tx) / s + CW;
    var y0 = -view.ty / s - CH, y1 = (height - view.ty) / s + CH;
    var focus = selected >= 0;
    var bend = CW * 0.35;

    function edgePath(p, c) {
      var a = G.nodes[p], b = G.nodes[c];
      var ax = a.x * CW + BOX_W, ay = a.y * CH + BOX_H / 2, bx = b.x * CW, by = b.y * CH + BOX_H / 2;
      if ((ax < x0 && bx < x0) || (ax > x1 && bx > x1) || (ay < y0 && by < y0) || (ay > y1 && by > y1)) return;
      ctx.moveTo(ax, ay);
      ctx.bezierCurveTo(ax + bend, ay, bx - bend, by, bx, by);
    }
    function onLineage(p, c) {
      var lp = lineage[p], lc = lineage[c];
      return (lp === 2 && (lc === 1 || lc === 2)) || (lc === 3 && (lp === 1 || lp === 3));
    }

    ctx.lineWidth = Math.max(1 / s, 1);
    ctx.strokeStyle = focus ? "rgba(140,149,159,0.18)" : (s < 0.2 ? "rgba(140,149,159,0.25)" : "rgba(140,149,159,0.7)");
    ctx.beginPath();
    var i, e, E = G.edges;
    for (i = 0; i < E.length; i++) {
      e = E[i];
      if (!focus || !onLineage(e[0], e[1])) edgePath(e[0], e[1]);
    }
    ctx.stroke();
    if (focus) {
      ctx.lineWidth = Math.max(2 / s, 2);
      ctx.strokeStyle = "#fb8500";
      ctx.beginPath();
      for (i = 0; i < E.length; i++) {
        e = E[i];
        if (onLineage(e[0], e[1])) edgePath(e[0], e[1]);
      }
      ctx.stroke();
    }

    var text = s * BOX_H >= 10;
    ctx.font = "13px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    ctx.textBaseline = "middle";
    var c0 = Math.max(0, Math.floor(x0 / CW)), c1 = Math.min(columns.length - 1, Math.ceil(x1 / CW));
    for (var c = c0; c <= c1; c++) {
      var col = columns[c];
      if (!col) continue;
      for (var k = 0; k < col.length; k++) {
        i = col[k];
        var n = G.nodes[i], x = n.x * CW, y = n.y * CH;
        if (y > y1) break;
        if (y + BOX_H < y0) continue;
        var dim = focus && lineage[i] === 0;
        ctx.globalAlpha = dim ? 0.22 : 1;
        ctx.fillStyle = colorOf(n);
        ctx.fillRect(x, y, BOX_W, BOX_H);
        if (matched[i]) {
          ctx.globalAlpha = 1;
          ctx.lineWidth = Math.max(3 / s, 3);
          ctx.strokeStyle = "#e3b341";
          ctx.strokeRect(x - 2, y - 2, BOX_W + 4, BOX_H + 4);
        }
        if (i === selected) {
          ctx.globalAlpha = 1;
          ctx.lineWidth = Math.max(3 / s, 3);
          ctx.strokeStyle = "#fb8500";
          ctx.strokeRect(x - 3, y - 3, BOX_W + 6, BOX_H + 6);
        }
        if (text) {
          ctx.globalAlpha = dim ? 0.35 : 1;
          ctx.fillStyle = "#ffffff";
          ctx.fillText(labelOf(i), x + 8, y + BOX_H / 2 + 0.5);
        }
      }
    }
    ctx.globalAlpha = 1;
    document.body.dataset.drawMs = (performance.now() - t0).toFixed(1);
  }

  function nodeAt(sx, sy) {
    var wx = (sx - view.tx) / view.scale, wy = (sy - view.ty) / view.scale;
    var c = Math.floor(wx / CW);
    if (c < 0 || !columns[c] || wx - c * CW > BOX_W) return -1;
    var col = columns[c], lo = 0, hi = col.length - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, y = G.nodes[col[mid]].y * CH;
      if (wy < y) hi = mid - 1;
      else if (wy > y + BOX_H) lo = mid + 1;
      else return col[mid];
    }
    return -1;
  }

  // ----------------------------------------------------------- selection
  function walk(adj, from, mark) {
    var stack = [from];
    while (stack.length) {
      var v = stack.pop();
      for (var k = adj.start[v]; k < adj.start[v + 1]; k++) {
        var u = adj.list[k];
        if (lineage[u] === 0) { lineage[u] = mark; stack.push(u); }
      }
    }
  }

  function select(i) {
    lineage.fill(0);
    selected = i;
    if (i >= 0) {
      lineage[i] = 1;
      walk(up, i, 2);
      walk(down, i, 3);
    }
    redraw();
  }

  // -------------------------------------------------------------- search
  var input = document.getElementById("search");
  var results = document.getElementById("results");
  var SHOWN = 50;
  var hits = [];
  var active = 0;

  function search(query) {
    var t0 = performance.now();
    var q = query.trim().toLowerCase();
    matched.fill(0);
    matchCount = 0;
    hits = [];
    if (q) {
      for (var i = 0; i < N; i++) {
        var n = G.nodes[i], score;
        if (n.lower === q) score = 0;
        else if (n.lower.indexOf(q) === 0) score = 1;
        else if (n.lower.indexOf(q) > 0) score = 2;
        else if (n.idLower.indexOf(q) >= 0) score = 3;
        else continue;
        matched[i] = 1;
        hits.push([score, i]);
      }
      matchCount = hits.length;
      hits.sort(function (a, b) {
        return a[0] - b[0] || G.nodes[a[1]].name.length - G.nodes[b[1]].name.length ||
          (G.nodes[a[1]].name < G.nodes[b[1]].name ? -1 : 1);
      });
    }
    showResults(q);
    redraw();
    document.body.dataset.searchMs = (performance.now() - t0).toFixed(1);
    document.body.dataset.searchHits = String(matchCount);
  }

  function link(i) {
    var a = document.createElement("a");
    a.href = "#node=" + encodeURIComponent(G.nodes[i].id);
    a.textContent = G.nodes[i].name;
    return a;
  }

  function showResults(q) {
    results.textContent = "";
    active = 0;
    if (!q) { results.hidden = true; return; }
    hits.slice(0, SHOWN).forEach(function (h, k) {
      var n = G.nodes[h[1]];
      var li = document.createElement("li");
      if (k === 0) li.className = "active";
      var a = link(h[1]);
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = [n.materialized || n.type, n.group].filter(Boolean).join(" \u00b7 ");
      a.appendChild(kind);
      li.appendChild(a);
      results.appendChild(li);
    });
    if (hits.length === 0 || hits.length > SHOWN) {
      var more = document.createElement("li");
      more.className = "more";
      more.textContent = hits.length === 0 ? "No node matches \u201c" + q + "\u201d" :
        (hits.length - SHOWN) + " more matches, highlighted in the graph";
      results.appendChild(more);
    }
    results.hidden = false;
  }

  function moveActive(step) {
    var items = results.querySelectorAll("li:not(.more)");
    if (!items.length) return;
    items[active].className = "";
    active = (active + step + items.length) % items.length;
    items[active].className = "active";
    items[active].scrollIntoView({ block: "nearest" });
  }

  input.addEventListener("input", function () { search(input.value); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowDown") { moveActive(1); ev.preventDefault(); }
    else if (ev.key === "ArrowUp") { moveActive(-1); ev.preventDefault(); }
    else if (ev.key === "Enter") {
      if (hits[active]) open(hits[active][1]);
      ev.preventDefault();
    } else if (ev.key === "Escape") { results.hidden = true; input.blur(); }
  });
  input.addEventListener("focus", function () { if (input.value.trim()) results.hidden = false; });
  results.addEventListener("click", function () { results.hidden = true; });
  document.addEventListener("keydown", function (ev) {
    if (ev.target === input) return;
    if (ev.key === "/") { input.focus(); input.select(); ev.preventDefault(); }
    else if (ev.key === "Escape") { closePage(); }
  });
  document.addEventListener("mousedown", function (ev) {
    if (!results.contains(ev.target) && ev.target !== input) results.hidden = true;
  });

  // ---------------------------------------------------------------- page
  var page = document.getElementById("page");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function nodeLink(id) {
    var i = byId.get(id);
    if (i === undefined) return el("span", "muted", id + " (not in this selection)");
    var a = link(i);
    a.title = id;
    return a;
  }

  function section(title) {
    page.appendChild(el("h2", null, title));
  }

  function sqlBlock(title, sql, openIt) {
    var d = el("details");
    d.open = !!openIt;
    d.appendChild(el("summary", null, title));
    d.appendChild(el("pre", null, sql));
    page.appendChild(d);
  }

  function renderPage(i) {
    var n = G.nodes[i], d = detailsOf(i);
    page.textContent = "";
    page.dataset.node = n.id;
    var close = el("button", "close", "\u00d7");
    close.type = "button";
    close.title = "Close (Esc)";
    close.addEventListener("click", closePage);
    page.appendChild(close);
    page.appendChild(el("h1", null, n.name));
    page.appendChild(el("p", "subtitle", [n.materialized ? n.materialized + " " + n.type : n.type, d.relation].filter(Boolean).join(" \u00b7 ")));
    if (d.description) page.appendChild(el("p", "description", d.description));
    else page.appendChild(el("p", "none", "No description."));

    var dl = el("dl");
    function fact(k, v) { dl.appendChild(el("dt", null, k)); var dd = el("dd"); if (typeof v === "string") dd.textContent = v; else dd.appendChild(v); dl.appendChild(dd); }
    fact("unique id", n.id);
    if (d.file) fact("file", d.file);
    if (d.relation) fact("relation", d.relation);
    Object.keys(d.facts || {}).forEach(function (k) { fact(k.replace(/_/g, " "), d.facts[k]); });
    if (d.tags && d.tags.length) {
      var tags = el("span");
      d.tags.forEach(function (t) { tags.appendChild(el("span", "tag", t)); });
      fact("tags", tags);
    }
    page.appendChild(dl);

    [["Depends on", d.depends_on], ["Referenced by", d.referenced_by]].forEach(function (part) {
      section(part[0]);
      if (!part[1] || !part[1].length) { page.appendChild(el("p", "none", "Nothing.")); return; }
      var ul = el("ul", "links");
      part[1].forEach(function (id) { var li = el("li"); li.appendChild(nodeLink(id)); ul.appendChild(li); });
      page.appendChild(ul);
    });

    section("Columns");
    var cols = d.columns || [];
    if (!cols.length) page.appendChild(el("p", "none", "No columns known."));
    else {
      var hasLineage = cols.some(function (c) { return c.lineage && c.lineage.length; });
      var table = el("table", "columns");
      var head = el("tr");
      ["Column", "Type", "Description", "Tests"].concat(hasLineage ? ["From"] : []).forEach(function (h) { head.appendChild(el("th", null, h)); });
      table.appendChild(head);
      cols.forEach(function (c) {
        var tr = el("tr");
        tr.appendChild(el("td", "name", c.name));
        tr.appendChild(el("td", "type", c.data_type || ""));
        tr.appendChild(el("td", "description", c.description || ""));
        var tests = el("td", "tests");
        (c.tests || []).forEach(function (t) {
          var test = (d.tests || []).filter(function (x) { return x.name === t; })[0];
          tests.appendChild(el("span", "pill" + (test && test.severity === "warn" ? " severity-warn" : ""), test ? test.test : t)).title = t;
        });
        tr.appendChild(tests);
        if (hasLineage) {
          var from = el("td", "lineage");
          (c.lineage || []).forEach(function (at, k) {
            var src = d.lineage_sources[at];
            if (k) from.appendChild(document.createTextNode(", "));
            var i2 = byId.get(src.node);
            var label = (i2 === undefined ? src.node : G.nodes[i2].name) + "." + src.column;
            var a = i2 === undefined ? el("span", null, label) : el("a", null, label);
            if (i2 !== undefined) a.href = "#node=" + encodeURIComponent(src.node);
            a.title = src.kind;
            from.appendChild(a);
            if (src.kind) from.appendChild(el("span", "muted", " (" + src.kind + ")"));
          });
          tr.appendChild(from);
        }
        table.appendChild(tr);
      });
      page.appendChild(table);
    }

    section("Tests");
    var tests = d.tests || [];
    if (!tests.length && !(d.unit_tests || []).length) page.appendChild(el("p", "none", "No tests."));
    tests.forEach(function (t) {
      var det = el("details", "test");
      var sum = el("summary");
      sum.appendChild(el("span", "pill" + (t.severity === "warn" ? " severity-warn" : ""), t.test));
      sum.appendChild(document.createTextNode(t.name + (t.column ? " (column " + t.column + ")" : "") + (t.severity === "warn" ? ", warn" : "")));
      det.appendChild(sum);
      var info = el("p", "muted", "declared in " + t.file);
      det.appendChild(info);
      var sql = t.sql_template != null ? testSqlOf(t.sql_template, d.relation, t.column) : t.sql;
      if (sql) det.appendChild(el("pre", null, sql));
      page.appendChild(det);
    });
    (d.unit_tests || []).forEach(function (u) {
      var p = el("p");
      p.appendChild(el("span", "pill", "unit"));
      p.appendChild(document.createTextNode(u.name + (u.description ? ": " + u.description : "") + " (" + u.file + ")"));
      page.appendChild(p);
    });

    if (d.raw_sql || d.compiled_sql) {
      section("SQL");
      if (d.raw_sql) sqlBlock("Source (" + d.file + ")", d.raw_sql, true);
      if (d.compiled_sql) sqlBlock("Compiled", d.compiled_sql, false);
      if (d.incremental_sql) sqlBlock("Compiled, incremental run", d.incremental_sql, false);
    }
    page.hidden = false;
    page.scrollTop = 0;
    document.title = n.name + " \u00b7 " + G.project + " \u00b7 stackc docs";
  }

  function open(i) {
    var hash = "#node=" + encodeURIComponent(G.nodes[i].id);
    if (location.hash !== hash) location.hash = hash; else route();
  }

  function closePage() {
    if (location.hash) {
      try { history.pushState(null, "", location.pathname + location.search); } catch (e) { location.hash = ""; }
    }
    route();
  }

  // ------------------------------------------------------------- routing
  function route() {
    var params = new URLSearchParams(location.hash.slice(1));
    var q = params.get("search");
    if (q !== null) { input.value = q; search(q); }
    var id = params.get("node");
    var i = id === null ? undefined : byId.get(id);
    if (i === undefined) {
      page.hidden = true;
      delete page.dataset.node;
      document.title = G.project + " \u00b7 stackc docs";
      select(-1);
    } else {
      results.hidden = true;
      var wasHidden = page.hidden;
      renderPage(i);
      select(i);
      if (wasHidden) resize();
      showLineage(i);
    }
    resizeSoon();
  }
  window.addEventListener("hashchange", route);

  // -------------------------------------------------------------- events
  var drag = null;
  canvas.addEventListener("pointerdown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, tx: view.tx, ty: view.ty, moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", function (ev) {
    var r = canvas.getBoundingClientRect();
    if (drag) {
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; canvas.classList.add("dragging"); }
      if (drag.moved) { view.tx = drag.tx + dx; view.ty = drag.ty + dy; redraw(); }
    } else {
      var i = nodeAt(ev.clientX - r.left, ev.clientY - r.top);
      canvas.classList.toggle("over", i >= 0);
      canvas.title = i >= 0 ? G.nodes[i].name + " (" + (G.nodes[i].materialized || G.nodes[i].type) + ")" : "";
    }
  });
  canvas.addEventListener("pointerup", function (ev) {
    var r = canvas.getBoundingClientRect();
    if (drag && !drag.moved) {
      var i = nodeAt(ev.clientX - r.left, ev.clientY - r.top);
      if (i >= 0) open(i); else closePage();
    }
    drag = null;
    canvas.classList.remove("dragging");
  });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    var delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    zoomAt(Math.exp(-delta * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", function () { zoomAt(1.4, width / 2, height / 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomAt(1 / 1.4, width / 2, height / 2); });
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("clear").addEventListener("click", function () {
    input.value = "";
    search("");
    closePage();
  });
  var resizeTimer = 0;
  function resizeSoon() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resize, 0);
  }
  window.addEventListener("resize", resizeSoon);

  // -------------------------------------------------------------- legend
  var legend = document.getElementById("legend");
  var present = {};
  G.nodes.forEach(function (n) { present[colorKey(n)] = true; });
  Object.keys(LABELS).forEach(function (k) {
    if (!present[k]) return;
    var item = el("span");
    var sw = el("span", "swatch");
    sw.style.background = COLORS[k];
    item.appendChild(sw);
    item.appendChild(document.createTextNode(LABELS[k]));
    legend.appendChild(item);
  });
  document.getElementById("stats").textContent = N + " nodes \u00b7 " + G.edges.length + " edges";

  resize();
  fit();
  route();
  draw();
  document.body.dataset.startMs = started.toFixed(1);
  document.body.dataset.readyMs = performance.now().toFixed(1);
  document.body.dataset.ready = "1";
  // The pages' data is most of the bytes: read it while nobody waits.
  setTimeout(function () { detailsOf(0); }, 200);
})();
