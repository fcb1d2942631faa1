/* fleetaudit report: draws findings, drift, the fact matrix and hosts from the JSON data
   island. Host data only ever reaches the page through textContent / attribute values
   (never innerHTML), and the CSP admits this one script by hash. Works offline. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("fa-data").textContent);
  var S = D.s, H = D.h, SEV = D.sev, ST = D.st;
  var PAGE = { findings: 100, drift: 100, matrix: 40, unreachable: 100, hosts: 100 };
  var shown = {};
  var state = { sev: "", cat: "", host: "" };
  var lowerNames = H.map(function (h) { return S[h[0]].toLowerCase(); });
  var byHost = null;  // lazily built reverse index: host -> finding groups, drift rows

  function str(i) { return i === undefined || i === null || i < 0 ? "" : S[i]; }
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return parent;
  }
  function fmt(n) { return n.toLocaleString("en-US"); }
  function plural(n, word) { return fmt(n) + " " + word + (n === 1 ? "" : "s"); }
  function hostName(h) { return S[H[h][0]]; }

  /* ---------------------------------------------------------------- state <-> URL */
  function readState() {
    var src = location.hash.indexOf("=") >= 0 ? location.hash.slice(1) : location.search.slice(1);
    var p = new URLSearchParams(src);
    state.sev = SEV.indexOf(p.get("sev") || "") >= 0 ? p.get("sev") : "";
    state.cat = p.get("cat") || "";
    state.host = p.get("host") || "";
    $("f-sev").value = state.sev;
    $("f-cat").value = state.cat;
    if ($("f-cat").value !== state.cat) state.cat = "";
    $("f-host").value = state.host;
    return p.get("open");
  }
  function writeState() {
    var p = new URLSearchParams();
    if (state.sev) p.set("sev", state.sev);
    if (state.cat) p.set("cat", state.cat);
    if (state.host) p.set("host", state.host);
    var hash = p.toString();
    try { history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search); }
    catch (e) { /* some file:// contexts refuse; the filters still work */ }
  }

  function hostMask() {
    if (!state.host) return null;
    var q = state.host.toLowerCase(), m = new Uint8Array(H.length), any = 0;
    for (var i = 0; i < H.length; i++) if (lowerNames[i].indexOf(q) >= 0) { m[i] = 1; any++; }
    m.count = any;
    return m;
  }
  function anyIn(hosts, mask) {
    if (!mask) return true;
    for (var i = 0; i < hosts.length; i++) if (mask[hosts[i]]) return true;
    return false;
  }

  /* ------------------------------------------------------------------ host links */
  function hostLink(h) {
    var a = el("a", "host", hostName(h));
    a.href = "#open=" + encodeURIComponent(hostName(h));
    a.setAttribute("data-h", String(h));
    return a;
  }
  // A host list: matching hosts first, the first `limit` as links, then "+N more".
  function hostList(hosts, mask, limit, total) {
    var span = el("span", "hostlist");
    var list = hosts;
    if (mask) {
      var hit = [], miss = [];
      hosts.forEach(function (h) { (mask[h] ? hit : miss).push(h); });
      list = hit.concat(miss);
    }
    function draw(n) {
      span.textContent = "";
      list.slice(0, n).forEach(function (h, i) {
        if (i) add(span, el("span", "sep", ", "));
        add(span, hostLink(h));
      });
      var unlisted = (total || hosts.length) - hosts.length;
      var rest = list.length - Math.min(n, list.length);
      if (rest > 0) {
        var b = el("button", "link", "+" + fmt(rest) + " more");
        b.type = "button";
        b.addEventListener("click", function (ev) { ev.stopPropagation(); draw(n + 200); });
        add(span, b);
      }
      if (unlisted > 0) add(span, el("span", "extra", " (+" + fmt(unlisted) + " not listed; see the snapshot)"));
    }
    draw(limit);
    return span;
  }
  function hostsCell(hosts, mask) {
    var td = el("td", "hostcell");
    var label = plural(hosts.length, "host");
    if (mask) {
      var n = 0;
      hosts.forEach(function (h) { if (mask[h]) n++; });
      if (n !== hosts.length) label += " (" + fmt(n) + " matching)";
    }
    add(td, el("div", "muted", label), hostList(hosts, mask, hosts.length === 1 ? 1 : 3));
    return td;
  }

  function moreButton(key, total, render) {
    var box = $(key + "-more");
    box.textContent = "";
    if (total > shown[key]) {
      add(box, "Showing " + fmt(shown[key]) + " of " + fmt(total) + ". ");
      var b = el("button", null, "Show " + fmt(Math.min(PAGE[key], total - shown[key])) + " more");
      b.type = "button";
      b.addEventListener("click", function () { shown[key] += PAGE[key]; render(); });
      add(box, b);
    }
  }

  /* -------------------------------------------------------------------- findings */
  function findingMatches(g, mask) {
    return (!state.sev || SEV[g[0]] === state.sev) && (!state.cat || str(g[1]) === state.cat) && anyIn(g[7], mask);
  }
  function renderFindings(mask) {
    var tb = $("findings").tBodies[0];
    tb.textContent = "";
    var rows = D.f.filter(function (g) { return findingMatches(g, mask); });
    rows.slice(0, shown.findings).forEach(function (g) {
      var tr = el("tr", "row");
      tr.setAttribute("data-sev", SEV[g[0]] || "unknown");
      tr.setAttribute("data-cat", str(g[1]));
      add(tr, add(el("td"), el("span", "badge " + (SEV[g[0]] || ""), SEV[g[0]] || "?")),
          add(el("td"), el("span", "cat", str(g[1]))),
          add(el("td"), el("span", "ttl", str(g[3])), el("span", "rule", str(g[2]))),
          hostsCell(g[7], mask));
      tr.addEventListener("click", function (ev) {
        if (ev.target.closest("a,button")) return;
        var next = tr.nextSibling;
        if (next && next.classList.contains("detail")) { next.remove(); tr.classList.remove("open"); return; }
        tr.classList.add("open");
        tb.insertBefore(findingDetail(g, mask), tr.nextSibling);
      });
      tb.appendChild(tr);
    });
    if (!rows.length) emptyRow(tb, 4, D.f.length ? "No finding matches the filters." : "No findings.");
    moreButton("findings", rows.length, update);
    return rows;
  }
  function findingDetail(g, mask) {
    var tr = el("tr", "detail"), td = el("td");
    td.colSpan = 4;
    var box = el("div", "detail");
    if (str(g[4])) add(box, el("h4", null, "Why it breaks pulls"), el("p", "why", str(g[4])));
    if (g[5].length) {
      var t = el("table", "ev");
      add(t, add(el("tr"), el("th", null, "Evidence"), el("th", null, "Expected"), el("th", null, "Actual")));
      g[5].forEach(function (e) {
        var r = el("tr");
        if (typeof e === "number") { var c = el("td", "val", str(e)); c.colSpan = 3; add(r, c); }
        else {
          var first = add(el("td", "val", str(e[0])));
          if (e.length > 3) add(first, el("div", "muted", str(e[3])));
          add(r, first, el("td", "val exp", e[1] < 0 ? "" : str(e[1])), el("td", "val act", e[2] < 0 ? "" : str(e[2])));
        }
        t.appendChild(r);
      });
      add(box, el("h4", null, "Evidence"), t);
    }
    if (g[6].length) add(box, el("h4", null, "Fix"), el("pre", "fix", g[6].map(str).join("\n")));
    add(box, el("h4", null, "Hosts (" + fmt(g[7].length) + ")"), hostList(g[7], mask, 200));
    tr.appendChild(add(td, box));
    return tr;
  }
  function emptyRow(tb, cols, text) {
    var td = el("td", "empty", text);
    td.colSpan = cols;
    tb.appendChild(add(el("tr"), td));
  }

  /* ----------------------------------------------------------------------- drift */
  function renderDrift(mask) {
    var tb = $("drift").tBodies[0];
    tb.textContent = "";
    var rows = D.d.filter(function (d) { return anyIn(d[6], mask); });
    rows.slice(0, shown.drift).forEach(function (d) {
      var path = add(el("td"), el("span", "val", str(d[0])));
      if (str(d[3])) add(path, el("span", "kind", str(d[3])));
      if (str(d[4])) add(path, el("div", "muted", str(d[4])));
      var exp = add(el("td"), el("div", "val exp", str(d[1])));
      if (str(d[5]) && str(d[5]) !== D.bn) add(exp, el("div", "muted", "baseline: " + str(d[5])));  // per-group baselines
      var tr = add(el("tr", "row"), path, exp, el("td", "val act", str(d[2])), hostsCell(d[6], mask));
      tb.appendChild(tr);
    });
    if (!rows.length) emptyRow(tb, 4, D.d.length ? "No drift for the matching hosts." : "No drift recorded in this run.");
    moreButton("drift", rows.length, update);
  }

  /* ---------------------------------------------------------------------- matrix */
  function renderMatrix(mask) {
    var box = $("matrix");
    box.textContent = "";
    var rows = D.m.filter(function (m) {
      return !mask || m[2].some(function (v, i) { return i > 0 && v[2] && anyIn(v[2], mask); });
    });
    rows.slice(0, shown.matrix).forEach(function (m) {
      var det = el("details", "mx"), sum = el("summary");
      var total = m[1] || 1, majority = m[2][0];
      var outliers = total - majority[1];
      var bar = el("div", "bar");
      m[2].slice(0, 5).forEach(function (v, i) {
        var seg = el("span", "b" + i);
        seg.style.width = (100 * v[1] / total).toFixed(2) + "%";  // CSSOM: allowed by the CSP
        bar.appendChild(seg);
      });
      var nvalues = plural(m[2].length + m[3], "value");
      var stat = m[5] ? add(el("div", "stat"), nvalues + " on " + plural(m[1], "host"))
                      : add(el("div", "stat"), el("b", null, plural(outliers, "outlier")), " · " + nvalues);
      var maj = m[5] ? el("span", "maj scattered", "varies from host to host (no majority)") : el("span", "maj", str(majority[0]));
      add(sum, el("span", "path", str(m[0])), maj, add(el("div"), stat, bar));
      det.appendChild(sum);
      det.addEventListener("toggle", function () {
        if (!det.open || det.getAttribute("data-built")) return;
        det.setAttribute("data-built", "1");
        var t = el("table", "vals");
        m[2].forEach(function (v, i) {
          var tr = el("tr", i === 0 && !m[5] ? "majority" : "outlier");
          var cnt = plural(v[1], "host") + " (" + (100 * v[1] / total).toFixed(1) + "%)";
          var who = el("td");
          if (i === 0 && !m[5]) add(who, el("span", "muted", "majority value"));
          else if (i === 0) add(who, hostList(v[2] || [], mask, 30, v[1]));
          else add(who, hostList(v[2] || [], mask, 30, v[1]));
          add(tr, el("td", "val", str(v[0])), el("td", "cnt", cnt), who);
          t.appendChild(tr);
        });
        if (m[3]) {
          var tr = el("tr"), td = el("td", "muted", "… " + plural(m[3], "more value") + " on " + plural(m[4], "host") + " (see the snapshot)");
          td.colSpan = 3;
          t.appendChild(add(tr, td));
        }
        det.appendChild(t);
      });
      box.appendChild(det);
    });
    if (!rows.length) box.appendChild(el("p", "empty", D.m.length ? "No matching host is an outlier." : "No fact matrix in this run (no consensus comparison)."));
    moreButton("matrix", rows.length, update);
  }

  /* ----------------------------------------------------------------- unreachable */
  function renderUnreachable(mask) {
    var tb = $("unreachable").tBodies[0];
    tb.textContent = "";
    var rows = [];
    for (var i = 0; i < H.length; i++) if (H[i][2] === 2 && (!mask || mask[i])) rows.push(i);
    rows.sort(function (a, b) { return str(H[a][3]).localeCompare(str(H[b][3])) || lowerNames[a].localeCompare(lowerNames[b]); });
    rows.slice(0, shown.unreachable).forEach(function (h) {
      var tr = el("tr", "row");
      tr.setAttribute("data-class", str(H[h][3]));
      add(tr, add(el("td"), hostLink(h)), el("td", "val", str(H[h][1])),
          add(el("td"), el("code", null, str(H[h][3]) || "?")), el("td", "val", str(H[h][4])));
      tb.appendChild(tr);
    });
    if (!rows.length) emptyRow(tb, 4, "Every matching host was reached.");
    moreButton("unreachable", rows.length, update);
  }

  /* ----------------------------------------------------------------------- hosts */
  function index() {
    if (byHost) return byHost;
    byHost = { f: H.map(function () { return []; }), d: H.map(function () { return []; }) };
    D.f.forEach(function (g, gi) { g[7].forEach(function (h) { byHost.f[h].push(gi); }); });
    D.d.forEach(function (d, di) { d[6].forEach(function (h) { byHost.d[h].push(di); }); });
    return byHost;
  }
  function hostRank(h) {
    var worst = H[h][5], st = H[h][2];
    if (worst <= 1) return worst;
    if (st === 2) return 2;
    if (worst <= 4) return worst + 1;
    if (st === 1) return 6;
    return index().d[h].length ? 7 : 8;
  }
  var order = null;
  function renderHosts(mask, findingRows) {
    var box = $("hosts");
    box.textContent = "";
    if (!order) {
      var rank = H.map(function (_, h) { return hostRank(h); });
      order = H.map(function (_, h) { return h; });
      order.sort(function (a, b) { return rank[a] - rank[b] || lowerNames[a].localeCompare(lowerNames[b]); });
    }
    var only = null;
    if (state.sev || state.cat) {
      only = new Uint8Array(H.length);
      findingRows.forEach(function (g) { g[7].forEach(function (h) { only[h] = 1; }); });
    }
    var rows = order.filter(function (h) { return (!mask || mask[h]) && (!only || only[h]); });
    rows.slice(0, shown.hosts).forEach(function (h) { box.appendChild(hostBlock(h)); });
    if (!rows.length) box.appendChild(el("p", "empty", "No host matches the filters."));
    moreButton("hosts", rows.length, update);
    return rows.length;
  }
  function hostBlock(h) {
    var row = H[h], det = el("details", "host"), sum = el("summary");
    det.setAttribute("data-h", String(h));
    det.setAttribute("data-host", hostName(h));
    var st = ST[row[2]] || "unknown";
    var badges = el("span", "hbadges");
    if (row[6]) add(badges, el("span", "badge " + (SEV[row[5]] || ""), plural(row[6], "finding")));
    var nd = index().d[h].length;
    if (nd) add(badges, el("span", "pill", plural(nd, "drift item")));
    if (row[3] >= 0) add(badges, el("span", "pill", str(row[3])));
    add(badges, el("span", "pill st-" + st, st));
    add(sum, el("span", "hname", hostName(h)), el("span", "haddr", str(row[1])), badges);
    det.appendChild(sum);
    det.addEventListener("toggle", function () {
      if (!det.open || det.getAttribute("data-built")) return;
      det.setAttribute("data-built", "1");
      det.appendChild(hostBody(h));
    });
    return det;
  }
  function hostBody(h) {
    var row = H[h], body = el("div", "hbody");
    var left = el("div"), right = el("div");
    var dl = el("dl", "facts");
    function fact(label, value) { if (value) add(dl, el("dt", null, label), el("dd", null, value)); }
    fact("Address", str(row[1]));
    fact("Status", ST[row[2]] || "unknown");
    (row[7] || []).forEach(function (v, i) { fact(D.sk[i], str(v)); });
    fact("Not collected", str(row[8]));
    add(left, el("h4", null, "Fact summary"), dl);
    if (!(row[7] || []).length) add(left, el("p", "muted", "No facts collected."));
    if (row[3] >= 0) add(right, el("h4", null, "Error"), el("p", "errbox", str(row[3]) + ": " + str(row[4])));
    var idx = index();
    var fl = idx.f[h];
    add(right, el("h4", null, "Findings (" + fl.length + ")"));
    if (fl.length) {
      var ul = el("ul", "hf");
      fl.forEach(function (gi) {
        var g = D.f[gi];
        add(ul, add(el("li"), el("span", "badge " + (SEV[g[0]] || ""), SEV[g[0]] || "?"), el("span", "cat", str(g[1])),
                    el("span", "ttl", str(g[3])), el("span", "rule", str(g[2]))));
      });
      right.appendChild(ul);
    } else add(right, el("p", "muted", "None."));
    var dr = idx.d[h];
    add(right, el("h4", null, "Drift against the baseline (" + dr.length + ")"));
    if (dr.length) {
      var t = el("table", "ev");
      add(t, add(el("tr"), el("th", null, "Fact path"), el("th", null, "Expected"), el("th", null, "Actual")));
      dr.forEach(function (di) {
        var d = D.d[di];
        add(t, add(el("tr"), el("td", "val", str(d[0])), el("td", "val exp", str(d[1])), el("td", "val act", str(d[2]))));
      });
      right.appendChild(t);
    } else add(right, el("p", "muted", "None."));
    return add(body, left, right);
  }

  function openHost(name) {
    var h = H.findIndex(function (r) { return S[r[0]] === name; });
    if (h < 0) return;
    state.host = name;
    $("f-host").value = name;
    update();
    var det = document.querySelector('details.host[data-h="' + h + '"]');
    if (det) {
      det.open = true;
      det.scrollIntoView({ block: "start" });
      det.classList.add("flash");
    }
  }

  /* ---------------------------------------------------------------------- update */
  function update() {
    var mask = hostMask();
    var rows = renderFindings(mask);
    renderDrift(mask);
    renderMatrix(mask);
    renderUnreachable(mask);
    var nh = renderHosts(mask, rows);
    var parts = [plural(rows.reduce(function (n, g) { return n + g[7].length; }, 0), "finding") + " in " + plural(rows.length, "row")];
    if (mask || state.sev || state.cat) parts.push(plural(nh, "host") + " match");
    $("f-count").textContent = parts.join(" · ");
    document.querySelectorAll(".sev-tile").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-sev") === state.sev); });
    document.querySelectorAll(".chip[data-cat]").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-cat") === state.cat); });
  }
  function reset() { Object.keys(PAGE).forEach(function (k) { shown[k] = PAGE[k]; }); }
  function changed() { reset(); writeState(); update(); }

  $("f-sev").addEventListener("change", function () { state.sev = this.value; changed(); });
  $("f-cat").addEventListener("change", function () { state.cat = this.value; changed(); });
  var typing = null;
  $("f-host").addEventListener("input", function () {
    var v = this.value.trim();
    clearTimeout(typing);
    typing = setTimeout(function () { state.host = v; changed(); }, 150);
  });
  $("f-clear").addEventListener("click", function () {
    state.sev = state.cat = state.host = "";
    $("f-sev").value = $("f-cat").value = $("f-host").value = "";
    changed();
  });
  document.querySelectorAll(".sev-tile").forEach(function (b) {
    b.addEventListener("click", function () {
      var v = b.getAttribute("data-sev");
      state.sev = state.sev === v ? "" : v;
      $("f-sev").value = state.sev;
      changed();
      $("sec-findings").scrollIntoView({ block: "start" });
    });
  });
  document.querySelectorAll(".chip[data-cat]").forEach(function (b) {
    b.addEventListener("click", function () {
      var v = b.getAttribute("data-cat");
      state.cat = state.cat === v ? "" : v;
      $("f-cat").value = state.cat;
      changed();
      $("sec-findings").scrollIntoView({ block: "start" });
    });
  });
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a");
    if (!a) return;
    if (a.classList.contains("host")) {
      ev.preventDefault();
      reset();
      openHost(hostName(+a.getAttribute("data-h")));
      writeState();
    } else if (a.parentNode && a.parentNode.classList && a.parentNode.classList.contains("tabs")) {
      ev.preventDefault();  // keep the filter state in the URL; just scroll
      var target = $(a.getAttribute("href").slice(1));
      if (target) target.scrollIntoView({ block: "start" });
    }
  });
  window.addEventListener("hashchange", function () {
    if (location.hash.indexOf("=") < 0) return;
    reset();
    var open = readState();
    if (open) openHost(open); else update();
  });

  reset();
  var open = readState();
  if (open) openHost(open); else update();
  document.documentElement.setAttribute("data-ready", "1");
})();
