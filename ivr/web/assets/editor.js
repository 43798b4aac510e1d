// The flow editor page (/flows/edit/<document>): CodeMirror in place of the textarea (kept in sync, so the
// form still posts the text), schema checks and completion as you type, the server's checks in ul#problems,
// the flow drawn beside it, the "Try it" panel and the "Changes" toggle. Without JS the page is a plain form.
import "./editor.css";
import { EditorView, basicSetup } from "codemirror";
import { Compartment, EditorSelection } from "@codemirror/state";
import { hoverTooltip } from "@codemirror/view";
import { json, jsonLanguage, jsonParseLinter } from "@codemirror/lang-json";
import { linter, lintGutter } from "@codemirror/lint";
import { disableErrorLogging } from "best-effort-json-parser";
import { handleRefresh, jsonCompletion, jsonSchemaHover, stateExtensions, updateSchema } from "codemirror-json-schema";
import { ChangesToggle } from "./diff.js";
import { FlowGraph } from "./graph.js";
import { locate, problemPath } from "./locate.js";
import { lineAndColumn, renderProblems } from "./problems.js";
import { nameCompletion, schemaLinter, successorFields, valueCompletion, withoutRemoteRefs } from "./schema.js";
import { debounce, getJSON, postJSON } from "./server.js";
import { TryPanel } from "./trial.js";

const CHECK_DELAY = 400; // ms after the last key stroke
disableErrorLogging(); // completion reads half-typed JSON with it, which is normal here, not a console error
// build/editor.css sits beside build/editor.js: linked from here unless the page links it already.
const STYLESHEET = document.currentScript ? document.currentScript.src.replace(/\.js(\?.*)?$/, ".css$1") : null;

function linkStylesheet() {
  if (!STYLESHEET || document.querySelector('link[rel="stylesheet"][href*="build/editor.css"]')) {
    return;
  }
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = STYLESHEET;
  document.head.appendChild(link);
}

function element(tag, className) {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

class Workspace {
  constructor(root, textarea) {
    this.root = root;
    this.textarea = textarea;
    this.document = root.dataset.document || "";
    this.kind = root.dataset.kind || "flow";
    this.successors = new Map(); // node type -> fields naming a node, from the schema
    this.names = {}; // {flows, desks, schedules}: from data-names-url
    this.schema = null;
    this.parsed = { text: null, data: null };
    this.round = 0;
    this.changes = new Compartment();

    this.toolbar = element("div", "editor-toolbar");
    const host = element("div", "code-editor");
    textarea.before(this.toolbar);
    textarea.after(host);
    textarea.hidden = true;
    textarea.style.display = "none"; // a stylesheet's `textarea {display: block}` would beat [hidden]
    this.view = new EditorView({
      doc: textarea.value,
      parent: host,
      extensions: [
        basicSetup,
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": `${this.document || "document"} (JSON)` }),
        json(),
        linter(jsonParseLinter(), { delay: 300 }),
        linter(schemaLinter(), { delay: 300, needsRefresh: handleRefresh }),
        lintGutter(),
        jsonLanguage.data.of({ autocomplete: jsonCompletion() }),
        jsonLanguage.data.of({ autocomplete: nameCompletion(this.kind, () => this.successors, () => this.names) }),
        jsonLanguage.data.of({ autocomplete: valueCompletion(() => this.schema) }),
        hoverTooltip(jsonSchemaHover()),
        stateExtensions(),
        this.changes.of([]),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) {
            this.textarea.value = update.state.doc.toString();
            this.edited();
          }
        }),
      ],
    });
    this.edited = debounce(() => this.refresh(), CHECK_DELAY);
    textarea.form && textarea.form.addEventListener("submit", () => {
      this.textarea.value = this.text();
    });

    this.problems = document.getElementById("problems");
    if (this.problems) {
      this.problems.addEventListener("click", (event) => this.problemClicked(event));
    }
    const graphBox = document.getElementById("graph");
    this.graph = graphBox && root.dataset.graphUrl && this.kind !== "site" ? new FlowGraph(graphBox, (id) => this.goTo(["nodes", id])) : null;
    const trySection = document.getElementById("try");
    const tryUrl = trySection && (trySection.dataset.tryUrl || root.dataset.tryUrl);
    this.trial = tryUrl ? new TryPanel(trySection, tryUrl, () => this.trySource(), (path) => this.lightPath(path)) : null;
    const published = document.getElementById("published");
    if (published) {
      this.changesToggle = new ChangesToggle(this.view, this.changes, published.value ?? published.textContent, this.toolbar);
    }
    this.loadSchema();
    this.loadNames();
    this.drawGraph();
  }

  text() {
    return this.view.state.doc.toString();
  }

  /** The document's JSON, parsed once per text (null while it does not parse). */
  data() {
    const text = this.text();
    if (this.parsed.text !== text) {
      let data = null;
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = null;
      }
      this.parsed = { text, data };
    }
    return this.parsed.data;
  }

  async loadSchema() {
    const url = this.root.dataset.schemaUrl;
    if (!url) {
      return;
    }
    try {
      const schema = withoutRemoteRefs(await getJSON(url));
      this.schema = schema;
      this.successors = successorFields(schema);
      updateSchema(this.view, schema);
    } catch (error) {
      this.root.dataset.schemaError = error.message;
    }
  }

  async loadNames() {
    const url = this.root.dataset.namesUrl;
    if (url) {
      try {
        this.names = await getJSON(url);
      } catch (error) {
        this.names = {};
      }
    }
  }

  /** After an edit settles: the server's checks and the graph, for the text as it is now. */
  refresh() {
    this.check();
    this.drawGraph();
  }

  async check() {
    const url = this.root.dataset.checkUrl;
    if (!url || !this.problems) {
      return;
    }
    const round = ++this.round;
    try {
      const answer = await postJSON(url, { document: this.document, text: this.text() });
      if (round === this.round) {
        renderProblems(this.problems, answer.problems || [], this.document);
        this.checkNote("");
      }
    } catch (error) {
      if (round === this.round) {
        this.checkNote(`The checks could not run: ${error.message}`);
      }
    }
  }

  /** A line under the problems saying why they may be out of date ("" for none). */
  checkNote(text) {
    if (!this.checkLine) {
      this.checkLine = element("p", "check-note");
      this.checkLine.setAttribute("role", "status");
      this.problems.after(this.checkLine);
    }
    this.checkLine.textContent = text;
    this.checkLine.hidden = !text;
  }

  async drawGraph() {
    if (!this.graph) {
      return;
    }
    const asked = this.text();
    try {
      const answer = await postJSON(this.root.dataset.graphUrl, { document: this.document, text: asked });
      if (asked === this.text()) {
        this.graph.draw(answer);
      }
    } catch (error) {
      this.graph.note(`The graph could not be drawn: ${error.message}`);
    }
  }

  problemClicked(event) {
    const link = event.target.closest('a[href="#source"]');
    if (!link) {
      return; // another document's problem: its own editor
    }
    event.preventDefault();
    const node = link.getAttribute("data-node");
    const field = link.getAttribute("data-field");
    if (node || field) {
      this.goTo(problemPath(node, field));
      return;
    }
    const where = lineAndColumn(link.textContent);
    const doc = this.view.state.doc;
    let at = 0;
    if (where && where.line <= doc.lines) {
      const line = doc.line(where.line);
      at = Math.min(line.from + Math.max(where.column - 1, 0), line.to);
    }
    this.view.dispatch({ selection: EditorSelection.cursor(at), effects: EditorView.scrollIntoView(at, { y: "center" }) });
    this.view.focus();
  }

  /** Put the cursor on the key at `path` (or as near as the text allows) and show it. */
  goTo(path) {
    const found = locate(this.view.state, path);
    if (!found) {
      return;
    }
    const at = found.from + 1; // inside the key's quotes
    this.view.dispatch({ selection: EditorSelection.cursor(at), effects: EditorView.scrollIntoView(at, { y: "center" }) });
    this.view.focus();
  }

  /** The flow's name (a try's path names flows): its "name", or the file name without .json. */
  flowName() {
    const data = this.data();
    return (data && typeof data.name === "string" && data.name) || this.document.replace(/\.json$/, "");
  }

  trySource() {
    return {
      document: this.document,
      text: this.text(),
      nodeType: (flow, id) => {
        const data = this.data();
        const node = data && data.nodes && (!flow || flow === this.flowName()) && data.nodes[id];
        return node && node.type;
      },
    };
  }

  /** Light a try's path on the graph: the steps in this flow. */
  lightPath(path) {
    if (!this.graph) {
      return;
    }
    const flow = this.flowName();
    this.graph.light(path.filter((step) => !step.flow || step.flow === flow).map((step) => step.node));
  }
}

function start() {
  const root = document.getElementById("workspace");
  const textarea = document.getElementById("source");
  if (!root || !textarea || root.dataset.enhanced) {
    return;
  }
  root.dataset.enhanced = "true";
  linkStylesheet();
  root.ivrWorkspace = new Workspace(root, textarea);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
