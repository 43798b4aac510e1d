// Where a node or a field is in the JSON text, found from CodeMirror's JSON syntax tree (so it works while
// the text is being edited, and never confuses a key with the same word in a prompt).
import { syntaxTree, ensureSyntaxTree } from "@codemirror/language";

/** "options.1.next" / "rules[0].next" / "prompt[2]" -> ["options", "1", "next"] / ["rules", 0, "next"]. */
export function fieldPath(field) {
  const parts = [];
  for (const piece of String(field || "").split(".")) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(piece);
    if (!match) {
      parts.push(piece);
      continue;
    }
    if (match[1]) {
      parts.push(match[1]);
    }
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) {
      parts.push(Number(index[1]));
    }
  }
  return parts;
}

/** The path of a problem or graph node: flow nodes live under "nodes". */
export function problemPath(node, field) {
  const path = node ? ["nodes", node] : [];
  return path.concat(fieldPath(field));
}

function keyOf(state, nameNode) {
  const raw = state.doc.sliceString(nameNode.from, nameNode.to);
  try {
    return JSON.parse(raw);
  } catch (error) {
    return raw.replace(/^"|"$/g, "");
  }
}

const VALUES = new Set(["Object", "Array", "String", "Number", "True", "False", "Null"]);

function valueOf(property) {
  const last = property.lastChild;
  return last && VALUES.has(last.name) ? last : null;
}

function child(state, container, step) {
  if (container.name === "Object" && typeof step !== "number") {
    for (let property = container.firstChild; property; property = property.nextSibling) {
      if (property.name !== "Property") {
        continue;
      }
      const name = property.getChild("PropertyName");
      if (name && keyOf(state, name) === String(step)) {
        return { at: name, value: valueOf(property) };
      }
    }
  }
  if (container.name === "Array" && typeof step === "number") {
    let index = 0;
    for (let item = container.firstChild; item; item = item.nextSibling) {
      if (!VALUES.has(item.name)) {
        continue;
      }
      if (index === step) {
        return { at: item, value: item };
      }
      index += 1;
    }
  }
  return null;
}

/** The deepest part of `path` found in the text: {from, to, found} (the key's range), or null for none. */
export function locate(state, path) {
  const tree = ensureSyntaxTree(state, state.doc.length, 200) || syntaxTree(state);
  let container = tree.topNode.firstChild;
  let best = null;
  let found = 0;
  for (const step of path) {
    if (!container) {
      break;
    }
    const next = child(state, container, step);
    if (!next) {
      break;
    }
    best = next.at;
    found += 1;
    container = next.value;
  }
  return best ? { from: best.from, to: best.to, found, complete: found === path.length } : null;
}

/** The string value at `path` in the text (a node's "type"), or null. */
export function valueAt(state, path) {
  const tree = ensureSyntaxTree(state, state.doc.length, 200) || syntaxTree(state);
  let value = tree.topNode.firstChild;
  for (const step of path) {
    const next = value && child(state, value, step);
    value = next && next.value;
  }
  return value && value.name === "String" ? keyOf(state, value) : null;
}

/** Node names of the flow in the text (the keys of "nodes"), in order. */
export function nodeNames(state) {
  const tree = ensureSyntaxTree(state, state.doc.length, 200) || syntaxTree(state);
  const nodes = tree.topNode.firstChild ? child(state, tree.topNode.firstChild, "nodes") : null;
  const names = [];
  if (nodes && nodes.value && nodes.value.name === "Object") {
    for (let property = nodes.value.firstChild; property; property = property.nextSibling) {
      const name = property.name === "Property" && property.getChild("PropertyName");
      if (name) {
        names.push(keyOf(state, name));
      }
    }
  }
  return names;
}

/** The path of keys from the top of the document to the string at `pos` (["nodes", "menu", "next"]). */
export function pathAt(state, pos) {
  const tree = syntaxTree(state);
  let node = tree.resolveInner(pos, -1);
  const path = [];
  for (; node; node = node.parent) {
    if (node.name === "Property") {
      const name = node.getChild("PropertyName");
      if (name) {
        path.unshift(keyOf(state, name));
      }
    } else if (node.name === "Array") {
      path.unshift(0);
    }
  }
  return path;
}
