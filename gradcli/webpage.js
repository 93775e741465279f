// gradcli graph --format html: step through the forward and the backward pass.
// Every sentence comes from the page's data (written by gradcli, in the words of
// --explain); this script only shows them. It builds the page's text with
// textContent, never from markup, and makes no request.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gradcli-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var GREEN = "#008000", RED = "#d00000";
  var svg = document.querySelector("#picture svg");
  var picture = document.getElementById("picture");
  var where = document.getElementById("where");
  var line = document.getElementById("line");
  var details = document.getElementById("details");
  var count = data.nodes.length;

  // --- what the SVG holds: a <g class="node"> per drawn node (title "n3"), a
  // <g class="edge"> per wire (title "n3->n5", or "n5->out" for the output's wire).
  var nodeEl = new Array(count);
  var outWires = [], inWires = [];
  for (var i = 0; i < count; i++) { outWires.push([]); inWires.push([]); }
  var outputLabel = null;

  function idOf(title) {
    if (title === "out") return data.outputNode;
    if (title.charAt(0) !== "n") return -1;
    var n = Number(title.slice(1));
    return Number.isInteger(n) && n >= 0 && n < count ? n : -1;
  }

  var groups = svg ? svg.querySelectorAll("g.node") : [];
  for (var g = 0; g < groups.length; g++) {
    var el = groups[g];
    var title = el.querySelector("title");
    var name = title ? title.textContent : "";
    var id = idOf(name);
    if (id < 0) continue;  // the legend
    if (name === "out") { outputLabel = el; } else { nodeEl[id] = el; }
    el.setAttribute("data-node", String(id));
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", "node " + data.nodes[id][1]);
    if (title) title.textContent = data.nodes[id][1];  // the tooltip says what the node is
  }
  var wires = svg ? svg.querySelectorAll("g.edge") : [];
  for (var w = 0; w < wires.length; w++) {
    var wire = wires[w];
    var t = wire.querySelector("title");
    var ends = t ? t.textContent.split("->") : [];
    if (ends.length !== 2) continue;
    var tail = idOf(ends[0]), head = ends[1] === "out" ? -2 : idOf(ends[1]);
    if (tail < 0 || head === -1) continue;
    var entry = { el: wire, value: [], grad: [] };
    var texts = wire.querySelectorAll("text");
    for (var k = 0; k < texts.length; k++) {
      var fill = (texts[k].getAttribute("fill") || "").toLowerCase();
      if (fill === GREEN) entry.value.push(texts[k]);
      else if (fill === RED) entry.grad.push(texts[k]);
    }
    outWires[tail].push(entry);
    if (head >= 0) inWires[head].push(entry);
  }

  // --- the steps: the forward pass, then the backward pass.
  var steps = [];
  var valueAt = new Array(count), gradAt = new Array(count);
  for (i = 0; i < count; i++) {
    // A constant's value is known before the first step; other numbers appear with theirs.
    valueAt[i] = data.nodes[i][4] === "const" ? -1 : Infinity;
    gradAt[i] = Infinity;
  }
  data.forward.forEach(function (s) {
    valueAt[s[0]] = steps.length;
    steps.push({ pass: "forward", node: s[0], text: s[1] });
  });
  data.backward.forEach(function (s) {
    gradAt[s[0]] = steps.length;
    steps.push({ pass: "backward", node: s[0], text: s[1] });
  });
  var forwardCount = data.forward.length, backwardCount = data.backward.length;

  // --- showing the numbers up to the current step
  var pos = -1;  // before the first step
  // The page starts with every wire's numbers hidden (the class "stepping" on the
  // picture, in the page as written): nothing to change, and no second layout, at load.
  var shownValue = new Array(count).fill(false), shownGrad = new Array(count).fill(false);

  function setShown(texts, on) {
    for (var k = 0; k < texts.length; k++) texts[k].classList.toggle("on", on);
  }
  function reveal() {
    for (var n = 0; n < count; n++) {
      var v = valueAt[n] <= pos, r = gradAt[n] <= pos;
      if (v !== shownValue[n] || r !== shownGrad[n]) {
        var ws = outWires[n];
        for (var k = 0; k < ws.length; k++) { setShown(ws[k].value, v); setShown(ws[k].grad, r); }
        shownValue[n] = v; shownGrad[n] = r;
      }
    }
  }

  // --- highlighting: one halo behind the current node, one behind the selected one
  function halo(kind) {
    var r = document.createElementNS(SVG, "rect");
    r.setAttribute("class", "halo " + kind);
    r.setAttribute("rx", "6");
    return r;
  }
  var currentHalo = halo("current-halo"), selectedHalo = halo("selected-halo");
  function place(h, el) {
    if (h.parentNode) h.parentNode.removeChild(h);
    if (!el) return;
    var box = el.getBBox();
    var pad = 5;
    h.setAttribute("x", box.x - pad); h.setAttribute("y", box.y - pad);
    h.setAttribute("width", box.width + 2 * pad); h.setAttribute("height", box.height + 2 * pad);
    el.insertBefore(h, el.firstChild);
  }
  var marked = [], flowing = [];
  function mark(id) {
    marked.forEach(function (el) { el.classList.remove("current"); });
    flowing.forEach(function (el) { el.classList.remove("flow-forward", "flow-backward"); });
    marked = []; flowing = [];
    if (id === null) { place(currentHalo, null); return; }
    var step = steps[pos];
    var el = nodeEl[id] || (id === data.outputNode ? outputLabel : null);
    if (el) { el.classList.add("current"); marked.push(el); }
    place(currentHalo, el);
    var ws = step.pass === "forward" ? inWires[id] : outWires[id];
    var cls = step.pass === "forward" ? "flow-forward" : "flow-backward";
    ws.forEach(function (wr) { wr.el.classList.add(cls); flowing.push(wr.el); });
    if (el) intoView(el);
  }
  // Scroll the picture (not the page) to centre a node that is out of its frame.
  function intoView(el) {
    var f = picture.getBoundingClientRect(), b = el.getBoundingClientRect();
    if (b.left < f.left || b.right > f.right) picture.scrollLeft += b.left + b.width / 2 - (f.left + f.width / 2);
    if (b.top < f.top || b.bottom > f.bottom) picture.scrollTop += b.top + b.height / 2 - (f.top + f.height / 2);
  }

  function say() {
    if (!data.numbers) {
      where.textContent = "No values to step through";
      line.textContent = "";
      return;
    }
    if (pos < 0) {
      where.textContent = "Start: " + forwardCount + " forward and " + backwardCount + " backward steps";
      line.textContent = "Press → or Next to begin the forward pass, inputs first.";
      return;
    }
    var step = steps[pos];
    var n = step.pass === "forward" ? pos + 1 : pos - forwardCount + 1;
    var of = step.pass === "forward" ? forwardCount : backwardCount;
    where.textContent = (step.pass === "forward" ? "Forward pass" : "Backward pass") +
      ": step " + n + " of " + of;
    line.textContent = step.text;
    line.setAttribute("data-pass", step.pass);
    line.setAttribute("data-node", String(step.node));
  }

  var buttons = {
    first: document.getElementById("first"), prev: document.getElementById("prev"),
    next: document.getElementById("next"), last: document.getElementById("last"),
  };
  function go(to) {
    to = Math.max(-1, Math.min(steps.length - 1, to));
    pos = to;
    reveal();
    mark(pos >= 0 ? steps[pos].node : null);
    say();
    // aria-disabled rather than disabled: a button that keeps the focus keeps the keys working
    buttons.first.setAttribute("aria-disabled", String(pos < 0));
    buttons.prev.setAttribute("aria-disabled", String(pos < 0));
    buttons.next.setAttribute("aria-disabled", String(pos >= steps.length - 1));
    buttons.last.setAttribute("aria-disabled", String(pos >= steps.length - 1));
    document.documentElement.setAttribute("data-step", String(pos));
  }

  // --- the details of one node
  function make(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function nodeButton(id) {
    var b = make("button", data.nodes[id][0], "node-link");
    b.type = "button";
    b.setAttribute("data-node", String(id));
    b.addEventListener("click", function () { select(id, true); });
    return b;
  }
  function row(list, parts) {
    var li = make("li");
    parts.forEach(function (p) { li.appendChild(typeof p === "string" ? document.createTextNode(p) : p); });
    list.appendChild(li);
  }
  var selected = null;
  function select(id, focus) {
    selected = id;
    var node = data.nodes[id], name = node[0], out = data.output;
    var target = nodeEl[id] || (id === data.outputNode ? outputLabel : null);
    place(selectedHalo, target);
    details.textContent = "";
    details.appendChild(make("h2", node[1]));
    var facts = make("dl");
    function fact(term, value, cls) {
      facts.appendChild(make("dt", term));
      facts.appendChild(make("dd", value, cls));
    }
    fact("operation", node[4]);
    if (data.numbers) {
      fact("value", node[2] === null ? "not evaluated (a branch of if not taken)" : node[2], "value");
      fact("gradient ∂" + out + "/∂" + name, node[3] === null ? "none (no input reaches it)" : node[3], "grad");
      var fwd = data.forward.filter(function (s) { return s[0] === id; })[0];
      var back = data.backward.filter(function (s) { return s[0] === id; })[0];
      if (fwd) fact("forward", fwd[1], "sentence");
      if (back) fact("chain rule", back[1], "sentence");
    }
    details.appendChild(facts);
    var ins = data.inputs[id];
    if (ins.length) {
      details.appendChild(make("h3", "Local gradients"));
      var list = make("ul", null, "local");
      ins.forEach(function (inp) {
        var head = "∂" + name + "/∂" + data.nodes[inp[0]][0];
        var constant = data.nodes[inp[0]][4] === "const";
        var local = inp[1] !== null ? inp[1] : constant ? "not needed (a constant)" : "—";
        var parts = [head + " = " + local + " "];
        parts.push(make("span", inp[2], "rule"));
        parts.push(" ");
        parts.push(nodeButton(inp[0]));
        row(list, parts);
      });
      details.appendChild(list);
    }
    details.appendChild(make("h3", "Consumers"));
    var uses = data.uses[id];
    if (!uses.length) {
      details.appendChild(make("p", id === data.outputNode ? "None: this is the output " + out + "." : "None."));
    } else {
      var ul = make("ul", null, "uses");
      uses.forEach(function (u) {
        var parts = [nodeButton(u[0])];
        if (data.numbers) parts.push(" carries back " + (u[1] === null ? "—" : u[1]));
        row(ul, parts);
      });
      details.appendChild(ul);
    }
    details.setAttribute("data-node", String(id));
    if (focus && target) target.focus({ preventScroll: false });
  }

  // --- input: buttons, keys, clicks
  buttons.first.addEventListener("click", function () { go(-1); });
  buttons.prev.addEventListener("click", function () { go(pos - 1); });
  buttons.next.addEventListener("click", function () { go(pos + 1); });
  buttons.last.addEventListener("click", function () { go(steps.length - 1); });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented) return;
    var t = e.target;
    if (t && t.getAttribute && t.getAttribute("data-node") !== null && (e.key === "Enter" || e.key === " ")) {
      if (t.classList.contains("node-link")) return;  // a button: its click does it
      select(Number(t.getAttribute("data-node")), false);
      e.preventDefault();
      return;
    }
    var moves = { ArrowRight: pos + 1, ArrowLeft: pos - 1, Home: -1, End: steps.length - 1 };
    if (!data.numbers || !(e.key in moves)) return;
    go(moves[e.key]);
    e.preventDefault();
  });
  if (svg) {
    svg.addEventListener("click", function (e) {
      var t = e.target.closest ? e.target.closest("[data-node]") : null;
      if (t) select(Number(t.getAttribute("data-node")), false);
    });
  }

  // --- the picture's size: fitted to the window when that keeps it readable
  var fitted = false;
  var zoom = document.getElementById("zoom");
  function fit(on) {
    fitted = on;
    picture.classList.toggle("fit", on);
    zoom.setAttribute("aria-pressed", String(on));
    zoom.textContent = on ? "Actual size" : "Fit";
  }
  zoom.addEventListener("click", function () { fit(!fitted); });
  if (svg) {
    // From the SVG's own width and the window's (no layout is forced while loading):
    // the picture's frame is the window less the details column beside it, if any.
    var width = svg.getAttribute("width") || "";
    var natural = parseFloat(width) * (/pt$/.test(width) ? 96 / 72 : 1);
    var frame = window.innerWidth >= 768 ? window.innerWidth - 420 : window.innerWidth - 30;
    fit(natural <= 2 * frame);
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-label", "the circuit of " + data.output);
  }

  if (!data.numbers) {
    picture.classList.remove("stepping");
    Object.keys(buttons).forEach(function (b) {
      buttons[b].disabled = true;
    });
  }
  go(-1);
  // Ready: the page has loaded and the first frame after it is drawn (the browser test
  // measures the time from the start of navigation to this mark).
  window.addEventListener("load", function () {
    requestAnimationFrame(function () {
      window.gradcliReadyAt = performance.now();
      document.documentElement.setAttribute("data-ready", "true");
    });
  });
})();
