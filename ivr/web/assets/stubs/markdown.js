// Stand-in for codemirror-json-schema's markdown renderer: the schema's descriptions are plain text, shown
// escaped (the original pulls in markdown-it and shiki).
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function renderMarkdown(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]).replace(/`([^`]*)`/g, "<code>$1</code>");
}
