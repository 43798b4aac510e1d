// The problems list (ul#problems): drawn from the check endpoint's answer with the same markup as the
// server's, each link carrying the node and field it is about.

function problemItem(problem) {
  const item = document.createElement("li");
  const severity = problem.severity === "warning" ? "warning" : "error";
  item.className = `problem ${severity}`;
  const link = document.createElement("a");
  link.href = "#source";
  if (problem.node) {
    link.setAttribute("data-node", problem.node);
  }
  if (problem.field) {
    link.setAttribute("data-field", problem.field);
  }
  const where = [problem.node && `node '${problem.node}'`, problem.field && `field '${problem.field}'`].filter(Boolean);
  link.textContent = (where.length ? `${where.join(", ")}: ` : "") + problem.message;
  item.appendChild(link);
  return item;
}

/** Replace the list's items with `problems` ({file, node, field, message, severity}) of `document`. */
export function renderProblems(list, problems, document) {
  const mine = problems.filter((problem) => !problem.file || problem.file === document);
  const others = problems.filter((problem) => problem.file && problem.file !== document);
  const items = mine.map(problemItem);
  for (const problem of others) {
    const item = problemItem({ ...problem, node: null, field: null });
    item.firstChild.textContent = `${problem.file}: ${item.firstChild.textContent}`;
    item.firstChild.removeAttribute("href");
    items.push(item);
  }
  list.replaceChildren(...items);
  list.classList.toggle("empty", items.length === 0);
  list.setAttribute("data-count", String(items.length));
}
