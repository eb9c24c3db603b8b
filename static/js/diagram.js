// Pan and zoom for the case diagram, node clicks that open the side panel through htmx, and
// keyboard navigation of the diagram and of the node list under it.
// Progressive enhancement: without this script the diagram scrolls natively and every node, in
// the diagram and in the list, is a plain link to its page (each one a Tab stop).
(function () {
  "use strict";

  var MIN_SCALE = 0.02;
  var MAX_SCALE = 4;
  // Scale = screen pixels per diagram unit; the statements are drawn 10 units high, so at
  // READABLE_SCALE they read at 12 px, and never below 11 px in the first view.
  var FIT_SCALE = 1.1; // the first view shows the whole diagram if it fits at this scale…
  var READABLE_SCALE = 1.2; // …else the top goal and what is below it at this one
  var TOP_MARGIN = 12; // screen pixels above the top goal in the first view
  var DRAG_THRESHOLD = 4; // pixels a press may move and still count as a click
  var XLINK = "http://www.w3.org/1999/xlink";

  function init(container) {
    if (container.dataset.panZoomReady) return;
    var svg = container.querySelector("svg");
    if (!svg) return;
    container.dataset.panZoomReady = "1";

    var box = svg.viewBox.baseVal;
    var full = { x: box.x, y: box.y, w: box.width, h: box.height };
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMin meet");
    container.classList.add("pan-zoom");
    var view = { x: full.x, y: full.y, w: full.w, h: full.h };

    var minimap = null;
    function apply() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
      if (minimap) minimap.update(visible());
    }
    // The part of the diagram on screen: the view box, widened or lengthened to the box's
    // shape (preserveAspectRatio xMidYMin meet centres it across and keeps it at the top).
    function visible() {
      var s = size();
      var k = scale();
      var w = s.w / k;
      var h = s.h / k;
      return { x: view.x - (w - view.w) / 2, y: view.y, w: w, h: h };
    }
    // Move the view so that the diagram point (x, y) is in the middle of the box.
    function panTo(x, y) {
      var seen = visible();
      view.x = x - view.w / 2;
      view.y = y - seen.h / 2;
      apply();
    }
    function size() {
      return { w: container.clientWidth || 1, h: container.clientHeight || 1 };
    }
    // Scale = screen pixels per diagram unit.
    function scale() {
      var s = size();
      return Math.min(s.w / view.w, s.h / view.h);
    }
    function setScale(k, cx, cy) {
      var s = size();
      k = Math.max(MIN_SCALE, Math.min(MAX_SCALE, k));
      // Keep the diagram point under (cx, cy) where it is.
      var px = view.x + (cx / s.w) * view.w;
      var py = view.y + (cy / s.h) * view.h;
      view.w = s.w / k;
      view.h = s.h / k;
      view.x = px - (cx / s.w) * view.w;
      view.y = py - (cy / s.h) * view.h;
      apply();
    }
    function fit() {
      var s = size();
      var k = Math.min(s.w / full.w, s.h / full.h, 1.5);
      view.w = s.w / k;
      view.h = s.h / k;
      view.x = full.x - (view.w - full.w) / 2;
      view.y = full.y;
      apply();
    }
    // The first view: the whole diagram if it stays readable, else the top goal at a
    // readable size, in the middle across and at the top, with what it rests on below it.
    function reset() {
      var s = size();
      if (Math.min(s.w / full.w, s.h / full.h) >= FIT_SCALE) return fit();
      fit();
      var root = topmostNode();
      if (!root) return setScale(READABLE_SCALE, s.w / 2, 0);
      centreOn(root, READABLE_SCALE);
      var top = toDiagram(0, root.getBoundingClientRect().top).y;
      view.y = top - TOP_MARGIN / READABLE_SCALE;
      apply();
    }
    // The root goal: on the top rank, and drawn as a box (context beside it is rounded or
    // an ellipse).
    function topmostNode() {
      var best = null;
      var bestY = Infinity;
      svg.querySelectorAll("g.node").forEach(function (g) {
        var r = g.getBoundingClientRect();
        var y = r.top + r.height / 2;
        var isBox = !!g.querySelector("polygon");
        if (y < bestY - 2 || (Math.abs(y - bestY) <= 2 && isBox && !best.querySelector("polygon"))) {
          best = g;
          bestY = Math.min(y, bestY);
        }
      });
      return best;
    }
    // The diagram point drawn at a point of the screen (exact whatever the zoom, the border
    // and the margins the aspect ratio leaves).
    function toDiagram(clientX, clientY) {
      var matrix = svg.getScreenCTM();
      if (!matrix) return { x: view.x + view.w / 2, y: view.y + view.h / 2 };
      return new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    }
    // Centre the view on an element (a node group) at scale k.
    function centreOn(element, k) {
      var r = element.getBoundingClientRect();
      var centre = toDiagram(r.left + r.width / 2, r.top + r.height / 2);
      var x = centre.x;
      var y = centre.y;
      var s = size();
      view.w = s.w / k;
      view.h = s.h / k;
      view.x = x - view.w / 2;
      view.y = y - view.h / 2;
      apply();
    }

    container.addEventListener(
      "wheel",
      function (event) {
        event.preventDefault();
        var rect = container.getBoundingClientRect();
        var factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
        setScale(scale() * factor, event.clientX - rect.left, event.clientY - rect.top);
      },
      { passive: false }
    );

    var press = null;
    var dragged = false;
    container.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      press = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, id: event.pointerId };
      dragged = false;
    });
    container.addEventListener("pointermove", function (event) {
      if (!press || event.pointerId !== press.id) return;
      var dx = event.clientX - press.x;
      var dy = event.clientY - press.y;
      if (!dragged && Math.abs(dx) + Math.abs(dy) < DRAG_THRESHOLD) return;
      if (!dragged) {
        dragged = true;
        container.setPointerCapture(press.id);
        container.classList.add("dragging");
      }
      var k = scale();
      view.x = press.vx - dx / k;
      view.y = press.vy - dy / k;
      apply();
    });
    function release() {
      press = null;
      container.classList.remove("dragging");
    }
    container.addEventListener("pointerup", release);
    container.addEventListener("pointercancel", release);
    // A drag that ends over a node must not open it.
    container.addEventListener(
      "click",
      function (event) {
        if (dragged) {
          event.preventDefault();
          event.stopPropagation();
          dragged = false;
        }
      },
      true
    );

    var column = container.closest("[data-diagram-column]") || container.parentElement;
    var toolbar = column.querySelector("[data-diagram-toolbar]");
    if (toolbar) {
      toolbar.hidden = false;
      toolbar.addEventListener("click", function (event) {
        var button = event.target.closest("[data-zoom]");
        if (!button) return;
        var s = size();
        var action = button.dataset.zoom;
        if (action === "in") setScale(scale() * 1.25, s.w / 2, s.h / 2);
        else if (action === "out") setScale(scale() / 1.25, s.w / 2, s.h / 2);
        else if (action === "fit") fit();
        else reset();
      });
    }

    // A small diagram that fits by width does not need the whole height of the box.
    var first = size();
    var widthScale = Math.min(first.w / full.w, 1.5);
    if (widthScale >= FIT_SCALE && full.h * widthScale + 24 < first.h) {
      container.style.height = Math.max(320, Math.ceil(full.h * widthScale + 24)) + "px";
    }

    enableNodePanel(container, svg);
    reset();
    var selected = highlight(svg, new URLSearchParams(window.location.search).get("node"));
    var firstHit = markSearchHits(container, svg);
    minimap = buildMinimap(container, svg, full, panTo);
    if (selected) {
      // The node asked for (?node=) opens at a readable size with the focus ring on it.
      selected.classList.add("focused");
      centreOn(selected, Math.max(scale(), READABLE_SCALE));
    } else if (firstHit) centreOn(firstHit, Math.max(scale(), READABLE_SCALE));
    else apply();

    // Bring a node the keyboard reached into view, keeping the zoom.
    container.revealNode = function (group) {
      var r = group.getBoundingClientRect();
      var c = container.getBoundingClientRect();
      var inside = r.left >= c.left && r.right <= c.right && r.top >= c.top && r.bottom <= c.bottom;
      if (!inside) centreOn(group, scale());
    };
    // A node selected anywhere else (the panel's links, search results, flags) is selected
    // here too: marked, given the focus ring, and brought into view.
    container.selectNode = function (identifier) {
      var group = highlight(svg, identifier);
      if (!group) return;
      svg.querySelectorAll("g.node.focused").forEach(function (g) {
        g.classList.remove("focused");
      });
      group.classList.add("focused");
      container.revealNode(group);
    };
    // A focused node link must never scroll the clipped box itself (pan-zoom owns the view).
    container.addEventListener("scroll", function () {
      container.scrollTop = 0;
      container.scrollLeft = 0;
    });
  }

  // The overview in the upper corner of the diagram: the whole argument small, the part on screen as
  // a rectangle; a click or a drag in it moves the main view there. Drawn from a copy of the
  // diagram's shapes (no text, no links, no ids), hidden from assistive technology: the node
  // list and the arrow keys are the keyboard's way around.
  var SVG_NS = "http://www.w3.org/2000/svg";
  var MINIMAP_WIDTH = 200;
  var MINIMAP_MAX_HEIGHT = 150;

  function buildMinimap(container, svg, full, panTo) {
    var frame = container.parentElement;
    var graph = svg.querySelector("g.graph") || svg.querySelector("g");
    if (!frame || !frame.classList.contains("diagram-frame") || !graph) return null;
    var copy = graph.cloneNode(true);
    copy.removeAttribute("id");
    copy.querySelectorAll("text, title").forEach(function (node) {
      node.remove();
    });
    copy.querySelectorAll("a").forEach(function (link) {
      while (link.firstChild) link.parentNode.insertBefore(link.firstChild, link);
      link.remove();
    });
    copy.querySelectorAll("[id]").forEach(function (node) {
      node.removeAttribute("id");
    });
    var overview = document.createElementNS(SVG_NS, "svg");
    overview.setAttribute("viewBox", [full.x, full.y, full.w, full.h].join(" "));
    overview.setAttribute("preserveAspectRatio", "xMidYMid meet");
    overview.appendChild(copy);
    var shown = document.createElementNS(SVG_NS, "rect");
    shown.setAttribute("class", "minimap-view");
    shown.setAttribute("vector-effect", "non-scaling-stroke");
    overview.appendChild(shown);

    var box = document.createElement("div");
    box.className = "minimap";
    box.setAttribute("aria-hidden", "true");
    box.dataset.minimap = "";
    box.title = "Overview of the whole diagram: click or drag to move there";
    var width = MINIMAP_WIDTH;
    var height = Math.max(40, Math.min(MINIMAP_MAX_HEIGHT, (width * full.h) / full.w));
    if ((width * full.h) / full.w > height) width = Math.max(60, (height * full.w) / full.h);
    box.style.width = Math.round(width) + "px";
    box.style.height = Math.round(height) + "px";
    box.appendChild(overview);
    frame.appendChild(box);

    function toDiagram(event) {
      var matrix = overview.getScreenCTM();
      if (!matrix) return null;
      var point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      return { x: point.x, y: point.y };
    }
    var dragging = null;
    box.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      event.preventDefault();
      dragging = event.pointerId;
      box.setPointerCapture(dragging);
      var point = toDiagram(event);
      if (point) panTo(point.x, point.y);
    });
    box.addEventListener("pointermove", function (event) {
      if (dragging !== event.pointerId) return;
      var point = toDiagram(event);
      if (point) panTo(point.x, point.y);
    });
    function stop() {
      dragging = null;
    }
    box.addEventListener("pointerup", stop);
    box.addEventListener("pointercancel", stop);

    return {
      box: box,
      update: function (seen) {
        shown.setAttribute("x", seen.x);
        shown.setAttribute("y", seen.y);
        shown.setAttribute("width", seen.w);
        shown.setAttribute("height", seen.h);
        // Nothing to find when the whole diagram is on screen.
        box.hidden =
          seen.x <= full.x && seen.y <= full.y &&
          seen.x + seen.w >= full.x + full.w && seen.y + seen.h >= full.y + full.h;
      },
    };
  }

  // Each node of the diagram is an SVG <a> to its page. With htmx, a click loads the node's
  // panel fragment beside the diagram instead and records ?node= in the address bar.
  function enableNodePanel(container, svg) {
    if (!window.htmx) return;
    var panelUrl = container.dataset.panelUrl;
    svg.querySelectorAll("a").forEach(function (link) {
      var href = link.getAttribute("href") || link.getAttributeNS(XLINK, "href");
      var match = href && href.match(/\/nodes\/([^/]+)\/$/);
      if (!match) return;
      var identifier = decodeURIComponent(match[1]);
      link.setAttribute("hx-get", href);
      link.setAttribute("hx-target", "#node-panel");
      link.setAttribute("hx-swap", "innerHTML");
      link.setAttribute("hx-push-url", panelUrl + encodeURIComponent(identifier));
      link.dataset.node = identifier;
    });
    // htmx does not cancel the default action of SVG links, so do it here: no navigation.
    container.addEventListener("click", function (event) {
      var link = event.target.closest("a[hx-get]");
      if (link) {
        event.preventDefault();
        highlight(svg, link.dataset.node);
      }
    });
    window.htmx.process(svg);
  }

  // The nodes the case page's search found (?q=) are outlined; the first one is returned.
  function markSearchHits(container, svg) {
    var hits;
    try {
      hits = JSON.parse(container.dataset.searchHits || "[]");
    } catch (error) {
      hits = [];
    }
    var first = null;
    hits.forEach(function (identifier) {
      var group = svg.getElementById ? svg.getElementById("node-" + identifier) : null;
      if (!group) return;
      group.classList.add("search-hit");
      first = first || group;
    });
    return first;
  }

  function highlight(svg, identifier) {
    svg.querySelectorAll("g.node.selected").forEach(function (g) {
      g.classList.remove("selected");
    });
    if (!identifier) return null;
    var group = svg.getElementById ? svg.getElementById("node-" + identifier) : null;
    if (!group) group = document.getElementById("node-" + identifier);
    if (group) group.classList.add("selected");
    return group;
  }

  // Keyboard: the diagram and the node list are one Tab stop each ("roving tabindex"). In the
  // node list the arrow keys move between nodes in reading order; in the diagram they follow
  // the tree the list shows (its indentation): ↑ the parent, ↓ the first element supporting
  // the node (else its first context), ← and → the previous and next child of the same parent.
  // In both, Page Up/Down move ten nodes in reading order, Home and End jump to the ends, and
  // Enter opens the node beside the diagram, as a click does.
  var NEXT = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };

  function nodeOrder() {
    var list = document.querySelector("[data-node-list]");
    if (!list) return [];
    return Array.prototype.map.call(list.querySelectorAll("a[data-node]"), function (a) {
      return a.dataset.node;
    });
  }

  var CONTEXTUAL = { assumption: 1, context: 1, justification: 1 };

  // The tree of the node list: each entry's parent is the nearest entry above it one level
  // less indented.
  function treeOf(list) {
    var tree = { parent: {}, children: {}, roots: [], type: {} };
    var path = [];
    list.querySelectorAll("a[data-node]").forEach(function (a) {
      var id = a.dataset.node;
      var depth = parseInt(a.dataset.depth, 10) || 0;
      while (path.length && path[path.length - 1].depth >= depth) path.pop();
      var parent = path.length ? path[path.length - 1].id : null;
      tree.parent[id] = parent;
      tree.type[id] = a.dataset.type || "";
      if (parent) (tree.children[parent] = tree.children[parent] || []).push(id);
      else tree.roots.push(id);
      path.push({ id: id, depth: depth });
    });
    return tree;
  }

  // The node an arrow key moves to from `current` in the diagram (itself at an end).
  function treeStep(tree, current, key, drawn) {
    function isDrawn(id) {
      return id in drawn;
    }
    if (key === "ArrowUp") {
      var parent = tree.parent[current];
      return parent && isDrawn(parent) ? parent : current;
    }
    if (key === "ArrowDown") {
      var children = (tree.children[current] || []).filter(isDrawn);
      var supporting = children.filter(function (id) {
        return !(tree.type[id] in CONTEXTUAL);
      });
      return supporting[0] || children[0] || current;
    }
    var siblings = (tree.parent[current] ? tree.children[tree.parent[current]] : tree.roots)
      .filter(isDrawn);
    var i = siblings.indexOf(current);
    var j = i + (key === "ArrowRight" ? 1 : -1);
    return i >= 0 && j >= 0 && j < siblings.length ? siblings[j] : current;
  }

  function svgLinks(svg) {
    var links = {};
    svg.querySelectorAll("g.node").forEach(function (g) {
      var link = g.querySelector("a");
      if (link && g.id.indexOf("node-") === 0) links[g.id.slice(5)] = link;
    });
    return links;
  }

  // Make `current` the one Tab stop of a group of links, and move focus to it if asked.
  // In the diagram, revealNode pans to the node instead of the browser scrolling the box.
  function rove(links, current, focus, preventScroll) {
    Object.keys(links).forEach(function (key) {
      links[key].setAttribute("tabindex", key === current ? "0" : "-1");
    });
    if (focus && links[current]) links[current].focus({ preventScroll: !!preventScroll });
  }

  function step(order, current, key) {
    var i = order.indexOf(current);
    if (key === "Home") return order[0];
    if (key === "End") return order[order.length - 1];
    if (i < 0) return order[0];
    return order[Math.max(0, Math.min(order.length - 1, i + NEXT[key]))];
  }

  function isNavigationKey(event) {
    return !event.altKey && !event.ctrlKey && !event.metaKey &&
      (event.key in NEXT || event.key === "Home" || event.key === "End");
  }

  function enableKeyboard() {
    var order = nodeOrder();
    if (!order.length) return;
    var list = document.querySelector("[data-node-list]");
    var listLinks = {};
    list.querySelectorAll("a[data-node]").forEach(function (a) {
      listLinks[a.dataset.node] = a;
    });
    var container = document.querySelector("[data-pan-zoom]");
    var svg = container && container.querySelector("svg");
    var diagramLinks = svg ? svgLinks(svg) : {};
    var diagramOrder = order.filter(function (id) {
      return id in diagramLinks;
    });
    var tree = treeOf(list);
    var wanted = new URLSearchParams(window.location.search).get("node");
    var start = wanted && wanted in listLinks ? wanted : order[0];
    rove(listLinks, start, false);
    rove(diagramLinks, wanted && wanted in diagramLinks ? wanted : diagramOrder[0], false);

    function show(identifier) {
      if (!svg) return;
      svg.querySelectorAll("g.node.focused").forEach(function (g) {
        g.classList.remove("focused");
      });
      var group = svg.getElementById ? svg.getElementById("node-" + identifier) : null;
      if (!group) return;
      group.classList.add("focused");
      if (container.revealNode) container.revealNode(group);
    }

    list.addEventListener("keydown", function (event) {
      var link = event.target.closest("a[data-node]");
      if (!link || !isNavigationKey(event)) return;
      event.preventDefault();
      rove(listLinks, step(order, link.dataset.node, event.key), true);
    });
    list.addEventListener("focusin", function (event) {
      var link = event.target.closest("a[data-node]");
      if (link) {
        rove(listLinks, link.dataset.node, false);
        show(link.dataset.node);
      }
    });
    list.addEventListener("focusout", function () {
      if (svg) svg.querySelectorAll("g.node.focused").forEach(function (g) {
        g.classList.remove("focused");
      });
    });

    if (!svg) return;
    svg.addEventListener("keydown", function (event) {
      var group = event.target.closest && event.target.closest("g.node");
      if (!group || !isNavigationKey(event)) return;
      event.preventDefault();
      var current = group.id.slice(5);
      var next = /^Arrow/.test(event.key)
        ? treeStep(tree, current, event.key, diagramLinks)
        : step(diagramOrder, current, event.key);
      rove(diagramLinks, next, true, true);
    });
    svg.addEventListener("focusin", function (event) {
      var group = event.target.closest && event.target.closest("g.node");
      if (group) {
        rove(diagramLinks, group.id.slice(5), false);
        show(group.id.slice(5));
      }
    });

    // The node opened in the panel becomes the Tab stop of both.
    document.addEventListener("htmx:afterSwap", function (event) {
      var body = event.detail.target && event.detail.target.querySelector("[data-node-id]");
      if (!body) return;
      var id = body.dataset.nodeId;
      if (id in listLinks) rove(listLinks, id, false);
      if (id in diagramLinks) rove(diagramLinks, id, false);
    });
  }

  // Choosing a level shows it at once (without script, the form's Show button does).
  function enableDepthForm() {
    var form = document.querySelector("[data-depth-form]");
    if (!form) return;
    form.querySelector("select").addEventListener("change", function () {
      form.requestSubmit();
    });
  }

  function start() {
    document.querySelectorAll("[data-pan-zoom]").forEach(init);
    enableKeyboard();
    enableDepthForm();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  // Panel links outside the diagram (flags, badges) select their node in the diagram too.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "node-panel") {
      var body = event.detail.target.querySelector("[data-node-id]");
      var container = document.querySelector("[data-pan-zoom]");
      if (body && container && container.selectNode) container.selectNode(body.dataset.nodeId);
      event.detail.target.scrollTop = 0; // the new node's panel starts at its top
      // On narrow screens the panel sits below the diagram: bring it into view.
      var top = event.detail.target.getBoundingClientRect().top;
      if (top > window.innerHeight * 0.8) event.detail.target.scrollIntoView({ block: "start" });
    }
  });
})();
