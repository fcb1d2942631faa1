/* fleetaudit report: draws findings, drift, the fact matrix and hosts from the JSON data
   island. Host data only ever reaches the page through textContent / attribute values
   (never innerHTML), and the CSP admits this one script by hash. Works offline. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("fa-data").textContent);
  var S = D.s, H = D.h, SEV = D.sev, ST = D.st;
  var SL = D.sl, FX = D.fx || [], HS = D.hs;  // since-last changes, fact changes, history
  var CH = ["new", "persisting", "resolved", "unverified"], WAIVED = 4, EXPIRED = 8;
  var PAGE = { findings: 100, drift: 100, matrix: 40, unreachable: 100, hosts: 100, changes: 100, factchg: 100 };
  var shown = {};
  var state = { sev: "", cat: "", host: "", ch: "", grp: "" };
  var GM = D.gm || { c: [], r: [] };  // inventory group x category matrix
  var nameIdx = new Map();  // exact host name -> index (the #host=NAME permalink)
  H.forEach(function (h, i) { nameIdx.set(S[h[0]], i); });
  // The host whose view is open: `host` naming one host exactly. Anything else in `host`
  // is a "name contains" filter, as before.
  function viewHost() { var h = nameIdx.get(state.host); return h === undefined ? -1 : h; }
  function hostGroups(h) { return H[h][9] || []; }
  var GI = new Map();  // finding group -> its index (for its per-host change states)
  D.f.forEach(function (g, i) { GI.set(g, i); });
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
    state.ch = SL && CH.concat(["waived"]).indexOf(p.get("ch") || "") >= 0 ? p.get("ch") : "";
    state.grp = p.get("grp") || "";
    if ($("f-grp")) { $("f-grp").value = state.grp; if ($("f-grp").value !== state.grp) state.grp = ""; }
    else state.grp = "";
    if ($("f-ch")) $("f-ch").value = state.ch;
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
    if (state.ch) p.set("ch", state.ch);
    if (state.grp) p.set("grp", state.grp);
    var hash = p.toString();
    try { history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search); }
    catch (e) { /* some file:// contexts refuse; the filters still work */ }
  }

  // Hosts the filters leave: one host (its view), or names containing the text, and
  // members of the chosen inventory group. null = every host.
  function hostMask() {
    if (!state.host && !state.grp) return null;
    var m = new Uint8Array(H.length), any = 0, v = viewHost();
    var q = state.host.toLowerCase(), gi = -1;
    if (state.grp) { gi = S.indexOf(state.grp); }
    var none = state.grp && state.grp === GM.ng;  // the "(no group)" row: hosts in no group
    for (var i = 0; i < H.length; i++) {
      if (state.host && (v >= 0 ? i !== v : lowerNames[i].indexOf(q) < 0)) continue;
      if (state.grp && (none ? hostGroups(i).length > 0 : hostGroups(i).indexOf(gi) < 0)) continue;
      m[i] = 1; any++;
    }
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
    a.href = "#host=" + encodeURIComponent(hostName(h));  // the host view's permalink
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

  /* ------------------------------------------------------------ change states */
  function chOf(flags) { return CH[flags & 3]; }
  function chMatch(flags, ch) {
    if (flags < 0) return false;
    return ch === "waived" ? (flags & WAIVED) !== 0 : chOf(flags) === ch;
  }
  function groupStates(g) { return SL ? SL.gs[GI.get(g)] || [] : []; }
  function chBadges(flagsList, total) {
    var span = el("span", "chgs"), counts = {}, waived = 0, expired = 0;
    flagsList.forEach(function (f) {
      if (f < 0) return;
      counts[chOf(f)] = (counts[chOf(f)] || 0) + 1;
      if (f & WAIVED) waived++;
      if (f & EXPIRED) expired++;
    });
    function badge(name, n, cls) {
      if (!n) return;
      add(span, el("span", "chg chg-" + (cls || name), n === total ? name : name + " " + fmt(n)));
    }
    CH.forEach(function (c) { badge(c, counts[c]); });
    badge("waived", waived);
    badge("waiver expired", expired, "expired");
    return span;
  }
  var chIndex = null;  // per host: finding changes, host change, fact changes
  function hostChanges() {
    if (chIndex) return chIndex;
    chIndex = { fc: H.map(function () { return []; }), hc: H.map(function () { return null; }),
                fx: H.map(function () { return []; }) };
    if (SL) {
      SL.fc.forEach(function (c, i) { chIndex.fc[c[5]].push(i); });
      SL.hc.forEach(function (c) { chIndex.hc[c[0]] = c; });
    }
    FX.forEach(function (f, i) { chIndex.fx[f[0]].push(i); });
    return chIndex;
  }
  function changeMatches(c, mask) {
    return (!state.ch || chMatch(c[0], state.ch)) && (!state.sev || SEV[c[1]] === state.sev) &&
      (!state.cat || str(c[2]) === state.cat) && (!mask || mask[c[5]]);
  }

  /* ---------------------------------------------------- changed since last run */
  function renderChanges(mask) {
    if (!SL) return;
    var tb = $("changes").tBodies[0];
    tb.textContent = "";
    var rows = SL.fc.filter(function (c) { return changeMatches(c, mask); });
    var order = { 0: 0, 2: 1, 3: 2, 1: 3 };  // new, resolved, unverified, then persisting
    rows.sort(function (a, b) { return order[a[0] & 3] - order[b[0] & 3] || a[1] - b[1]; });
    rows.slice(0, shown.changes).forEach(function (c) {
      var tr = el("tr", "row");
      tr.setAttribute("data-ch", chOf(c[0]));
      tr.setAttribute("data-sev", SEV[c[1]] || "unknown");
      var what = add(el("td"), el("span", "ttl", str(c[4])), el("span", "rule", str(c[3])));
      if (c[7] >= 0) add(what, el("div", "muted waiver", str(c[7])));
      add(tr, add(el("td"), chBadges([c[0]], 1)),
          add(el("td"), el("span", "badge " + (SEV[c[1]] || ""), SEV[c[1]] || "?")),
          what, add(el("td"), hostLink(c[5])), el("td", "when", str(c[6])));
      tb.appendChild(tr);
    });
    if (!rows.length) emptyRow(tb, 5, SL.fc.length ? "No finding change matches the filters." : "No finding changed since the last run.");
    moreButton("changes", rows.length, update);

    tb = $("factchg").tBodies[0];
    tb.textContent = "";
    var facts = FX.filter(function (f) { return (f[6] & 1) && (!mask || mask[f[0]]); });
    facts.slice(0, shown.factchg).forEach(function (f) {
      var path = add(el("td"), el("span", "val", str(f[1])), el("span", "kind", str(f[2])));
      if (f[6] & WAIVED) add(path, el("span", "chg chg-waived", "waived"));
      add(tb, add(el("tr", "row"), add(el("td"), hostLink(f[0])), path,
                  el("td", "val exp", f[3] < 0 ? "(absent)" : str(f[3])),
                  el("td", "val act", f[4] < 0 ? "(absent)" : str(f[4]))));
    });
    if (!facts.length) emptyRow(tb, 4, "No fact changed since the last run" + (mask ? " on the matching hosts." : "."));
    moreButton("factchg", facts.length, update);

    tb = $("hostchg").tBodies[0];
    tb.textContent = "";
    var hosts = SL.hc.filter(function (c) { return !mask || mask[c[0]]; });
    hosts.forEach(function (c) {
      var st = add(el("td"), el("span", "val", (c[2] >= 0 ? str(c[2]) : "(not in the last run)") + " \u2192 " +
                                 (c[3] >= 0 ? str(c[3]) : "(not in this run)")));
      if (c[4] >= 0) add(st, el("div", "muted", str(c[4])));
      add(tb, add(el("tr", "row"), add(el("td"), hostLink(c[0])),
                  add(el("td"), el("span", "chg chg-host", str(c[1]))), st, el("td", "when", str(c[5]))));
    });
    if (!hosts.length) emptyRow(tb, 4, "No host appeared, vanished, became unreachable or came back.");
  }

  /* --------------------------------------------------------------- history chart */
  var SVGNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    var m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function renderChart() {
    var box = $("history-chart");
    if (!box || !HS || !HS.r.length) return;
    var runs = HS.r, W = 960, Hh = 250, L = 52, R = 44, T = 14, B = 46;
    var max = 0;
    runs.forEach(function (r) { r[2].forEach(function (n) { if (n > max) max = n; }); });
    var step = niceStep(Math.max(max, 4) / 4), top = Math.max(step, Math.ceil(max / step) * step);
    function x(i) { return runs.length === 1 ? L + (W - L - R) / 2 : L + i * (W - L - R) / (runs.length - 1); }
    function y(n) { return T + (Hh - T - B) * (1 - n / top); }
    var root = svg("svg", { viewBox: "0 0 " + W + " " + Hh, "class": "hist", role: "img",
                            "aria-label": "Findings per severity over the last " + runs.length + " runs" });
    for (var v = 0; v <= top; v += step) {
      add(root, svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), "class": v ? "grid" : "axis" }),
          svg("text", { x: L - 8, y: y(v) + 4, "class": "ylab" }, fmt(v)));
    }
    var every = Math.max(1, Math.ceil(runs.length / 10));
    runs.forEach(function (r, i) {
      if (i % every && i !== runs.length - 1) return;
      var t = svg("text", { x: x(i), y: Hh - B + 18, "class": "xlab" }, str(r[0]));
      add(root, t, svg("text", { x: x(i), y: Hh - B + 33, "class": "xlab sub" }, str(r[1]).slice(5, 16).replace("T", " ")));
    });
    // Least severe first: SVG paints in document order, so where lines coincide the
    // most severe one stays visible on top.
    SEV.slice().reverse().forEach(function (sev) {
      var si = SEV.indexOf(sev);
      var g = svg("g", { "class": "series sev-" + sev, "data-sev": sev });
      add(g, svg("polyline", { points: runs.map(function (r, i) { return x(i).toFixed(1) + "," + y(r[2][si]).toFixed(1); }).join(" ") }));
      runs.forEach(function (r, i) {
        var c = svg("circle", { cx: x(i).toFixed(1), cy: y(r[2][si]).toFixed(1), r: 3.5, "data-n": r[2][si] });
        add(c, svg("title", {}, str(r[0]) + " (" + str(r[1]) + "): " + plural(r[2][si], sev + " finding")));
        g.appendChild(c);
      });
      root.appendChild(g);
    });
    box.appendChild(root);
  }

  /* -------------------------------------------------------------------- findings */
  function findingMatches(g, mask) {
    return (!state.sev || SEV[g[0]] === state.sev) && (!state.cat || str(g[1]) === state.cat) && anyIn(g[7], mask) &&
      (!state.ch || groupStates(g).some(function (f) { return chMatch(f, state.ch); }));
  }
  function renderFindings(mask) {
    var tb = $("findings").tBodies[0];
    tb.textContent = "";
    var rows = D.f.filter(function (g) { return findingMatches(g, mask); });
    rows.slice(0, shown.findings).forEach(function (g) {
      var tr = el("tr", "row");
      tr.setAttribute("data-sev", SEV[g[0]] || "unknown");
      tr.setAttribute("data-cat", str(g[1]));
      tr.setAttribute("data-rule", str(g[2]));
      tr.setAttribute("data-impact", String(g[9]));
      add(tr, add(el("td"), el("span", "badge " + (SEV[g[0]] || ""), SEV[g[0]] || "?")),
          add(el("td"), el("span", "cat", str(g[1]))),
          add(el("td"), el("span", "ttl", str(g[3])), SL ? chBadges(groupStates(g), g[7].length) : null,
              el("span", "rule", str(g[2])),
              g[8].length > 1 ? el("span", "variants", plural(g[8].length, "variant")) : null),
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
    if (!rows.length) emptyRow(tb, 4, state.ch === "resolved" ? "Resolved findings are gone from this run: see Changed since last run."
                                      : D.f.length ? "No finding matches the filters." : "No findings.");
    moreButton("findings", rows.length, update);
    return rows;
  }
  // One cause, its variants folded: a single variant shows as before; several list
  // "variant -> hosts", each expandable to its own evidence and fix.
  function findingDetail(g, mask) {
    var tr = el("tr", "detail"), td = el("td");
    td.colSpan = 4;
    var box = el("div", "detail");
    if (g[8].length === 1) variantBody(g[8][0], box, mask);
    else {
      add(box, el("h4", null, plural(g[8].length, "variant") + " of this cause"));
      var list = el("div", "variants");
      g[8].forEach(function (v) {
        if (mask && !anyIn(v[5], mask)) return;
        var det = el("details", "variant"), sum = el("summary");
        add(sum, el("span", "badge " + (SEV[v[0]] || ""), SEV[v[0]] || "?"), el("span", "ttl", str(v[1])),
            el("span", "vhosts", plural(v[5].length, "host")));
        add(det, sum);
        det.addEventListener("toggle", function () {
          if (!det.open || det.getAttribute("data-built")) return;
          det.setAttribute("data-built", "1");
          variantBody(v, add(det, el("div", "vbody")).lastChild, mask);
        });
        list.appendChild(det);
      });
      box.appendChild(list);
    }
    tr.appendChild(add(td, box));
    return tr;
  }
  function evidenceTable(ev) {
    var t = el("table", "ev");
    add(t, add(el("tr"), el("th", null, "Evidence"), el("th", null, "Expected"), el("th", null, "Actual")));
    ev.forEach(function (e) {
      var r = el("tr");
      if (typeof e === "number") { var c = el("td", "val", str(e)); c.colSpan = 3; add(r, c); }
      else {
        var first = add(el("td", "val", str(e[0])));
        if (e.length > 3) add(first, el("div", "muted", str(e[3])));
        add(r, first, el("td", "val exp", e[1] < 0 ? "" : str(e[1])), el("td", "val act", e[2] < 0 ? "" : str(e[2])));
      }
      t.appendChild(r);
    });
    return t;
  }
  function variantBody(v, box, mask) {  // v = [sev, title, why, evidence, fix, hosts]
    if (str(v[2])) add(box, el("h4", null, "Why it breaks pulls"), el("p", "why", str(v[2])));
    if (v[3].length) add(box, el("h4", null, "Evidence"), evidenceTable(v[3]));
    if (v[4].length) add(box, el("h4", null, "Fix"), el("pre", "fix", v[4].map(str).join("\n")));
    if (v[5]) add(box, el("h4", null, "Hosts (" + fmt(v[5].length) + ")"), hostList(v[5], mask, 200));
    return box;
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
    byHost = { f: H.map(function () { return []; }), d: H.map(function () { return []; }),
               v: H.map(function () { return []; }) };  // v: [cause, variant] per host
    D.f.forEach(function (g, gi) {
      g[7].forEach(function (h) { byHost.f[h].push(gi); });
      g[8].forEach(function (v, vi) { v[5].forEach(function (h) { byHost.v[h].push([gi, vi]); }); });
    });
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
    if (state.ch) {  // hosts with a matching change (resolved ones are not in findingRows)
      only = new Uint8Array(H.length);
      SL.fc.forEach(function (c) { if (changeMatches(c, null)) only[c[5]] = 1; });
    } else if (state.sev || state.cat) {
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
    if (SL || FX.length) {
      var hc = hostChanges();
      if (hc.fc[h].length) add(badges, chBadges(hc.fc[h].map(function (i) { return SL.fc[i][0]; }), -1));
      var nfx = hc.fx[h].filter(function (i) { return FX[i][6] & 1; }).length;
      if (nfx) add(badges, el("span", "chg chg-facts", plural(nfx, "fact") + " changed"));
      if (hc.hc[h]) add(badges, el("span", "chg chg-host", str(hc.hc[h][1])));
    }
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
  function hostChangeDetail(h, box) {
    var hc = hostChanges();
    if (SL) {
      add(box, el("h4", null, "Since the last run (" + hc.fc[h].length + ")"));
      if (hc.fc[h].length) {
        var ul = el("ul", "hf");
        hc.fc[h].forEach(function (i) {
          var c = SL.fc[i];
          add(ul, add(el("li"), chBadges([c[0]], 1), el("span", "badge " + (SEV[c[1]] || ""), SEV[c[1]] || "?"),
                      el("span", "ttl", str(c[4])), el("span", "when", str(c[6]))));
        });
        box.appendChild(ul);
      } else add(box, el("p", "muted", "No finding changed."));
    }
    var fx = hc.fx[h];
    if (!SL && !fx.length) return;
    add(box, el("h4", null, "Fact changes, with when (" + fx.length + ")"));
    if (!fx.length) { add(box, el("p", "muted", "No fact changed in the recorded runs.")); return; }
    var t = el("table", "ev factlog");
    add(t, add(el("tr"), el("th", null, "When"), el("th", null, "Fact path"), el("th", null, "Before"), el("th", null, "After")));
    fx.forEach(function (i) {
      var f = FX[i], when = add(el("td", "when", str(f[5])));
      if (f[6] & 1) add(when, el("span", "chg chg-new", "since last run"));
      add(t, add(el("tr"), when, add(el("td", "val", str(f[1])), el("span", "kind", str(f[2]))),
                 el("td", "val exp", f[3] < 0 ? "(absent)" : str(f[3])), el("td", "val act", f[4] < 0 ? "(absent)" : str(f[4]))));
    });
    box.appendChild(t);
  }
  function hostBody(h, full) {  // full: the host view, with each finding's evidence and fix
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
    if (fl.length && full) {
      var box = el("div", "hfull");
      idx.v[h].forEach(function (gv) {
        var g = D.f[gv[0]], v = g[8][gv[1]], one = el("div", "hfinding");
        add(one, add(el("div", "hfhead"), el("span", "badge " + (SEV[v[0]] || ""), SEV[v[0]] || "?"),
                     el("span", "cat", str(g[1])), el("span", "ttl", str(v[1])), el("span", "rule", str(g[2]))));
        variantBody([v[0], v[1], v[2], v[3], v[4], null], one, null);
        box.appendChild(one);
      });
      right.appendChild(box);
    } else if (fl.length) {
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
    hostChangeDetail(h, right);
    return add(body, left, right);
  }

  /* ------------------------------------------------------------------- host view */
  // Everything about one host in one section; #host=NAME (exact name) opens it.
  function renderHostView() {
    var sec = $("sec-host"), box = $("hostview"), h = viewHost();
    if (!sec) return;
    box.textContent = "";
    sec.hidden = h < 0;
    if (h < 0) return;
    var row = H[h], st = ST[row[2]] || "unknown";
    sec.setAttribute("data-host", hostName(h));
    var head = add(el("div", "hvhead"), el("h2", "hvname", hostName(h)), el("span", "haddr", str(row[1])),
                   el("span", "pill st-" + st, st));
    if (row[6]) add(head, el("span", "badge " + (SEV[row[5]] || ""), plural(row[6], "finding")));
    var close = el("button", "hvclose", "Close host view");
    close.type = "button";
    close.addEventListener("click", function () { state.host = ""; $("f-host").value = ""; changed(); });
    add(head, close);
    var groups = el("div", "hvgroups");
    hostGroups(h).forEach(function (gi) {
      var b = el("button", "chip grp", str(gi));
      b.type = "button";
      b.setAttribute("data-grp", str(gi));
      b.title = "Show the whole group";
      b.addEventListener("click", function () { setGroup(str(gi)); state.host = ""; $("f-host").value = ""; changed(); });
      groups.appendChild(b);
    });
    if (!hostGroups(h).length) add(groups, el("span", "muted", "No inventory group recorded."));
    var link = el("a", "permalink", "Permalink");
    link.href = "#host=" + encodeURIComponent(hostName(h));
    add(groups, link);
    add(box, head, groups, hostBody(h, true));
  }
  function openHost(name) {
    var h = nameIdx.get(name);
    if (h === undefined) return;
    state.host = name;
    $("f-host").value = name;
    if (state.grp && hostGroups(h).indexOf(S.indexOf(state.grp)) < 0) setGroup("");
    update();
    var det = document.querySelector('details.host[data-h="' + h + '"]');
    if (det) det.open = true;  // the Hosts list shows it open too
    var sec = $("sec-host");
    if (sec) { sec.scrollIntoView({ block: "start" }); sec.classList.remove("flash"); void sec.offsetWidth; sec.classList.add("flash"); }
  }

  /* --------------------------------------------------------- inventory groups */
  function setGroup(g) { state.grp = g; if ($("f-grp")) $("f-grp").value = g; }
  function renderGroups() {
    var t = $("groups");
    if (!t) return;
    var head = t.tHead.rows[0], tb = t.tBodies[0];
    if (!head.cells.length) {
      add(head, el("th", null, "Group"), el("th", "num", "Hosts"), el("th", "num", "Unreachable"));
      GM.c.forEach(function (c) { add(head, el("th", "num", str(c))); });
    }
    tb.textContent = "";
    GM.r.forEach(function (r) {
      var name = str(r[0]), tr = el("tr", "row");
      tr.setAttribute("data-grp", name);
      tr.classList.toggle("active", state.grp === name);
      function cell(n, cat, cls, target) {
        var td = el("td", "num " + (cls || ""));
        if (!n) { td.textContent = "\u00b7"; td.classList.add("zero"); return td; }
        var b = el("button", "cell", fmt(n));
        b.type = "button";
        b.setAttribute("data-grp", name);
        if (cat !== null) b.setAttribute("data-cat", cat);
        b.title = fmt(n) + " of " + fmt(r[1]) + " hosts in " + name + (cat ? " with a " + cat + " finding" : "");
        b.addEventListener("click", function () {
          setGroup(name);
          if (cat !== null) { state.cat = cat; $("f-cat").value = cat; if ($("f-cat").value !== cat) state.cat = ""; }
          changed();
          $(target).scrollIntoView({ block: "start" });
        });
        td.classList.add(state.grp === name && (cat === null ? target !== "sec-findings" || !state.cat : state.cat === cat) ? "sel" : "n");
        return add(td, b);
      }
      add(tr, add(el("td"), el("span", "gname", name)), cell(r[1], null, "gm-hosts", "sec-hosts"),
          cell(r[2], null, "unreach", "sec-unreachable"));
      r[3].forEach(function (n, i) { tr.appendChild(cell(n, str(GM.c[i]), "gm-cat", "sec-findings")); });
      tb.appendChild(tr);
    });
  }

  /* ---------------------------------------------------------------------- update */
  function update() {
    var mask = hostMask();
    var rows = renderFindings(mask);
    renderChanges(mask);
    renderDrift(mask);
    renderMatrix(mask);
    renderUnreachable(mask);
    var nh = renderHosts(mask, rows);
    renderHostView();
    renderGroups();
    var parts = [plural(rows.reduce(function (n, g) { return n + g[7].length; }, 0), "finding") + " in " + plural(rows.length, "row")];
    if (mask || state.sev || state.cat || state.ch || state.grp) parts.push(plural(nh, "host") + " match");
    $("f-count").textContent = parts.join(" · ");
    document.querySelectorAll(".sev-tile").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-sev") === state.sev); });
    document.querySelectorAll(".chip[data-cat]").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-cat") === state.cat); });
    document.querySelectorAll(".chg[data-ch]").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-ch") === state.ch); });
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
  if ($("f-ch")) $("f-ch").addEventListener("change", function () { state.ch = this.value; changed(); });
  if ($("f-grp")) $("f-grp").addEventListener("change", function () { state.grp = this.value; changed(); });
  document.querySelectorAll(".chg[data-ch]").forEach(function (b) {
    b.addEventListener("click", function () {
      var v = b.getAttribute("data-ch");
      state.ch = state.ch === v ? "" : v;
      $("f-ch").value = state.ch;
      changed();
    });
  });
  $("f-clear").addEventListener("click", function () {
    state.sev = state.cat = state.host = state.ch = state.grp = "";
    if ($("f-ch")) $("f-ch").value = "";
    if ($("f-grp")) $("f-grp").value = "";
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
    if (open || viewHost() >= 0) openHost(open || state.host); else update();
  });

  reset();
  renderChart();
  var open = readState();
  if (open || viewHost() >= 0) openHost(open || state.host); else update();
  document.documentElement.setAttribute("data-ready", "1");
})();
