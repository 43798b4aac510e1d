// The problems list (ul#problems): drawn from the check endpoint's answer with the server's markup
// (templates/flow_problems.html): a problem of this document links to #source with its node and field; one of
// another document links to that document's editor.

function code(text) {
  const node = document.createElement("code");
  node.textContent = text;
  return node;
}

/** The file's own name ("flows/main.json" -> "main.json"). */
function baseName(file) {
  return String(file).split("/").pop();
}

function problemItem(problem, document) {
  const item = window.document.createElement("li");
  const severity = problem.severity === "warning" ? "warning" : "error";
  item.className = `problem ${severity}`;
  const link = window.document.createElement("a");
  const file = problem.file ? baseName(problem.file) : document;
  if (file === document) {
    link.href = "#source";
    if (problem.node) link.setAttribute("data-node", problem.node);
    if (problem.field) link.setAttribute("data-field", problem.field);
  } else {
    // the other document's editor: this page's address with the other file name
    link.href = window.location.pathname.replace(/[^/]*$/, encodeURIComponent(file));
    link.append(`${file}: `);
  }
  if (problem.node) {
    link.append("node ", code(problem.node));
    link.append(problem.field ? ", field " : ": ");
    if (problem.field) link.append(code(problem.field), ": ");
  } else if (problem.field) {
    link.append("field ", code(problem.field), ": ");
  }
  link.append(problem.message);
  item.appendChild(link);
  if (severity === "warning") {
    const note = window.document.createElement("span");
    note.className = "severity";
    note.textContent = "(warning)";
    item.append(" ", note);
  }
  return item;
}

/** Replace the list's items with `problems` ({file, node, field, message, severity}); this one's first. */
export function renderProblems(list, problems, document) {
  const mine = (problem) => !problem.file || baseName(problem.file) === document;
  const ordered = [...problems.filter(mine), ...problems.filter((problem) => !mine(problem))];
  list.replaceChildren(...ordered.map((problem) => problemItem(problem, document)));
  list.setAttribute("data-count", String(ordered.length));
}

/** Where a problem without node or field points, from its message ("invalid JSON: ... at line 3 column 5"). */
export function lineAndColumn(message) {
  const match = /\bline (\d+) column (\d+)\b/.exec(message || "");
  return match ? { line: Number(match[1]), column: Number(match[2]) } : null;
}
