// The flow as a picture: the graph JSON of the server (nodes, labelled edges, gotos) laid out with dagre and
// drawn as SVG, one <g data-node> per node; clicking a node (or Enter on it) asks the editor to show it.
import { graphlib, layout } from "@dagrejs/dagre";

const SVG = "http://www.w3.org/2000/svg";
const CHAR = 7.2; // average width of a character at the graph's font size, in px
const LINE = 16;
const LOOP = 34; // room right of a node for an edge back to itself (a menu's timeout that asks again)

function el(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, String(value));
  }
  if (text !== null) {
    node.textContent = text;
  }
  return node;
}

const LABEL_SHOWN = 26; // characters of a node's description drawn in its box (all of it in the tooltip)

function clip(text) {
  return text.length <= LABEL_SHOWN ? text : `${text.slice(0, LABEL_SHOWN - 1).trimEnd()}\u2026`;
}

/** The lines drawn in a node's box: its name, its type, and what it does (E's label), if anything. */
function linesOf(node) {
  const lines = [node.id, node.type || "?"];
  if (node.label && node.label !== node.id) {
    lines.push(clip(node.label));
  }
  return lines;
}

function boxFor(lines) {
  const widest = Math.max(...lines.map((line) => line.length));
  return { width: Math.max(70, widest * CHAR + 20), height: lines.length * LINE + 14 };
}

/** Where the line from the centre of `node` (its drawn box) towards `point` leaves the box. */
function border(node, point) {
  const dx = point.x - node.x;
  const dy = point.y - node.y;
  const w = node.box.width / 2;
  const h = node.box.height / 2;
  if (!dx && !dy) {
    return { x: node.x, y: node.y };
  }
  const scale = Math.abs(dy) * w > Math.abs(dx) * h ? h / Math.abs(dy) : w / Math.abs(dx);
  return { x: node.x + dx * scale, y: node.y + dy * scale };
}

function edgePath(points) {
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

export class FlowGraph {
  /** `container`: the #graph element; `onSelect(id)`: a node was clicked. */
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.visited = [];
    this.svg = null;
    container.addEventListener("click", (event) => this.picked(event));
    container.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        this.picked(event);
      }
    });
  }

  picked(event) {
    const target = event.target.closest && event.target.closest("[data-node]");
    if (target && this.container.contains(target)) {
      event.preventDefault();
      this.onSelect(target.getAttribute("data-node"));
    }
  }

  /** Draw `graph` ({nodes, edges, gotos, dangling, problem_nodes, warning_nodes, invalid}); the path of the
   * last try stays lit. While the JSON does not parse, the last drawing stays, with a note saying so. */
  draw(graph) {
    const nodes = graph.nodes || [];
    this.note(graph.invalid && !nodes.length ? `Not redrawn: ${graph.invalid}` : "");
    if (graph.invalid && !nodes.length && this.svg) {
      return;
    }
    const problems = new Set(graph.problem_nodes || []);
    const warnings = new Set(graph.warning_nodes || []);
    const g = new graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 44, edgesep: 12, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    const known = new Set(nodes.map((node) => node.id));
    const loops = new Map(); // node id -> labels of its edges to itself (dagre is not asked to route them)
    for (const edge of graph.edges || []) {
      if (edge.from === edge.to && known.has(edge.from)) {
        loops.set(edge.from, [...(loops.get(edge.from) || []), edge.label || ""]);
      }
    }
    for (const node of nodes) {
      const box = boxFor(linesOf(node));
      const room = loops.has(node.id) ? 2 * (LOOP + Math.max(...loops.get(node.id).map((l) => l.length)) * CHAR) : 0;
      g.setNode(`n:${node.id}`, { width: box.width + room, height: box.height, box, node });
    }
    const gotos = graph.gotos || [];
    for (const jump of gotos) {
      const box = boxFor([`\u2192 ${jump.flow}`]);
      g.setNode(`g:${jump.flow}`, { ...box, box, flow: jump.flow });
    }
    const missing = [...new Set((graph.dangling || []).filter((edge) => known.has(edge.from)).map((edge) => edge.to))];
    for (const name of missing) {
      const box = boxFor([name, "missing"]);
      g.setNode(`m:${name}`, { ...box, box, missing: name });
    }
    const edges = [];
    (graph.edges || []).forEach((edge, i) => {
      if (known.has(edge.from) && known.has(edge.to) && edge.from !== edge.to) {
        edges.push({ v: `n:${edge.from}`, w: `n:${edge.to}`, name: `e${i}`, label: edge.label || "", edge });
      }
    });
    (graph.dangling || []).forEach((edge, i) => {
      if (known.has(edge.from)) {
        edges.push({ v: `n:${edge.from}`, w: `m:${edge.to}`, name: `d${i}`, label: edge.label || "", edge });
      }
    });
    gotos.forEach((jump, i) => {
      if (known.has(jump.from)) {
        edges.push({ v: `n:${jump.from}`, w: `g:${jump.flow}`, name: `g${i}`, label: "goto", edge: jump });
      }
    });
    for (const edge of edges) {
      const width = edge.label.length * CHAR * 0.9 + 6;
      g.setEdge(edge.v, edge.w, { label: edge.label, width, height: 14, labelpos: "c" }, edge.name);
    }
    layout(g);

    const size = g.graph();
    const svg = el("svg", {
      class: "flow-graph",
      viewBox: `0 0 ${Math.ceil(size.width || 1)} ${Math.ceil(size.height || 1)}`,
      width: Math.ceil(size.width || 1),
      height: Math.ceil(size.height || 1),
      role: "img",
      "aria-label": "The flow as a graph",
    });
    const defs = el("defs");
    const marker = el("marker", { id: "graph-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
    defs.appendChild(marker);
    svg.appendChild(defs);

    const edgeLayer = el("g", { class: "edges" });
    for (const edge of edges) {
      const laid = g.edge(edge.v, edge.w, edge.name);
      const group = el("g", { class: "edge", "data-from": edge.v.slice(2), "data-to": edge.w.slice(2) });
      if (edge.w.startsWith("g:")) {
        group.classList.add("to-goto");
      } else if (edge.w.startsWith("m:")) {
        group.classList.add("to-missing");
      }
      const points = laid.points.slice();
      // ends on the drawn boxes (a node with a loop was laid out wider than it is drawn)
      points[0] = border(g.node(edge.v), points[1] || points[0]);
      points[points.length - 1] = border(g.node(edge.w), points[points.length - 2] || points[0]);
      group.appendChild(el("path", { d: edgePath(points), "marker-end": "url(#graph-arrow)" }));
      if (edge.label) {
        group.appendChild(el("text", { x: laid.x.toFixed(1), y: (laid.y + 4).toFixed(1), "text-anchor": "middle" }, edge.label));
      }
      edgeLayer.appendChild(group);
    }
    for (const [id, labels] of loops) {
      const laid = g.node(`n:${id}`);
      const right = laid.x + laid.box.width / 2;
      const group = el("g", { class: "edge loop", "data-from": id, "data-to": id });
      const d = `M${right},${laid.y - 6} C${right + LOOP},${laid.y - 26} ${right + LOOP},${laid.y + 26} ${right},${laid.y + 6}`;
      group.appendChild(el("path", { d, "marker-end": "url(#graph-arrow)" }));
      group.appendChild(el("text", { x: right + LOOP - 4, y: laid.y + 4, "text-anchor": "start" }, labels.filter(Boolean).join(", ")));
      edgeLayer.appendChild(group);
    }
    svg.appendChild(edgeLayer);

    const nodeLayer = el("g", { class: "nodes" });
    for (const id of g.nodes()) {
      const laid = { ...g.node(id), ...g.node(id).box };
      const x = laid.x - laid.width / 2;
      const y = laid.y - laid.height / 2;
      const group = el("g", { transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` });
      group.appendChild(el("rect", { width: laid.width.toFixed(1), height: laid.height.toFixed(1), rx: 6 }));
      if (laid.node) {
        const node = laid.node;
        group.setAttribute("class", `node type-${node.type || "unknown"}`);
        group.setAttribute("data-node", node.id);
        group.setAttribute("tabindex", "0");
        group.setAttribute("role", "button");
        const marks = [];
        if (node.start) marks.push("start");
        if (node.unreachable) marks.push("unreachable");
        if (problems.has(node.id)) marks.push("problem");
        else if (warnings.has(node.id)) marks.push("warning");
        group.classList.add(...marks);
        group.setAttribute("aria-label", `${node.id} (${node.type || "?"})${marks.length ? ": " + marks.join(", ") : ""}`);
        const about = node.label && node.label !== node.id ? `\n${node.label}` : "";
        group.appendChild(el("title", {}, `${node.id}: ${node.type || "?"}${marks.length ? " (" + marks.join(", ") + ")" : ""}${about}`));
        linesOf(node).forEach((line, i) => {
          const css = ["name", "type", "about"][i];
          group.appendChild(el("text", { x: laid.width / 2, y: 7 + (i + 1) * LINE - 3, "text-anchor": "middle", class: css }, line));
        });
      } else if (laid.missing) {
        group.setAttribute("class", "missing");
        group.setAttribute("data-missing", laid.missing);
        group.appendChild(el("title", {}, `no node named ${laid.missing}`));
        group.appendChild(el("text", { x: laid.width / 2, y: 7 + LINE - 3, "text-anchor": "middle", class: "name" }, laid.missing));
        group.appendChild(el("text", { x: laid.width / 2, y: 7 + 2 * LINE - 3, "text-anchor": "middle", class: "type" }, "missing"));
      } else {
        group.setAttribute("class", "goto");
        group.setAttribute("data-goto", laid.flow);
        group.appendChild(el("title", {}, `continues in flow ${laid.flow}`));
        group.appendChild(el("text", { x: laid.width / 2, y: 7 + LINE - 3, "text-anchor": "middle", class: "name" }, `\u2192 ${laid.flow}`));
      }
      nodeLayer.appendChild(group);
    }
    svg.appendChild(nodeLayer);

    if (this.svg) {
      this.svg.replaceWith(svg);
    } else {
      this.container.appendChild(svg);
    }
    this.svg = svg;
    this.light(this.visited);
  }

  /** A line above the drawing ("" for none). */
  note(text) {
    if (!this.noteLine) {
      this.noteLine = document.createElement("p");
      this.noteLine.className = "graph-note";
      this.noteLine.setAttribute("role", "status");
      this.container.prepend(this.noteLine);
    }
    this.noteLine.textContent = text;
    this.noteLine.hidden = !text;
  }

  /** Light the nodes (ids, in order) of a try's path, and the edges between consecutive ones. */
  light(ids) {
    this.visited = ids.slice();
    if (!this.svg) {
      return;
    }
    this.svg.querySelectorAll(".visited").forEach((node) => node.classList.remove("visited", "current"));
    this.svg.querySelectorAll(".current").forEach((node) => node.classList.remove("current"));
    const seen = new Set(ids);
    for (const group of this.svg.querySelectorAll("g[data-node]")) {
      if (seen.has(group.getAttribute("data-node"))) {
        group.classList.add("visited");
      }
    }
    const last = ids[ids.length - 1];
    for (const group of this.svg.querySelectorAll("g[data-node]")) {
      if (group.getAttribute("data-node") === last) {
        group.classList.add("current");
      }
    }
    const steps = new Set(ids.slice(1).map((id, i) => `${ids[i]}\u0000${id}`));
    for (const edge of this.svg.querySelectorAll("g.edge")) {
      if (steps.has(`${edge.getAttribute("data-from")}\u0000${edge.getAttribute("data-to")}`)) {
        edge.classList.add("visited");
      }
    }
  }
}
