// Schema checks and completion while typing: the JSON Schema (draft 2020-12 keywords such as if/then, which
// codemirror-json-schema's own linter, on draft 4, skips) validated with json-schema-library's draft 7, and
// node names completed in every field that names a node.
import { syntaxTree } from "@codemirror/language";
import { Draft07 } from "json-schema-library";
import { getJSONSchema, parseJSONDocumentState } from "codemirror-json-schema";
import { nodeNames, pathAt, valueAt } from "./locate.js";

const TARGET = "#/$defs/target";
const KEY_ERRORS = new Set(["NoAdditionalPropertiesError", "RequiredPropertyError", "InvalidPropertyNameError"]);

/** For each node type, the fields whose value names a node of the same flow ({say: {next}, menu: ...}). */
export function successorFields(schema) {
  const byType = new Map();
  for (const definition of Object.values(schema.$defs || {})) {
    const properties = (definition && definition.properties) || {};
    const type = properties.type && properties.type.const;
    if (typeof type !== "string") {
      continue;
    }
    const fields = Object.keys(properties).filter((key) => properties[key] && properties[key].$ref === TARGET);
    byType.set(type, new Set(fields));
  }
  return byType;
}

function readable(message) {
  return message.replace(/ (in|at) `#[^`]*`/g, "").replace(/`#\/?([^`]*)`/g, (all, path) => `\`${path.replace(/\//g, ".")}\``);
}

/** A linter source: every schema error at its key (unknown or missing fields) or value. */
export function schemaLinter() {
  let schema = null;
  let draft = null;
  return (view) => {
    const current = getJSONSchema(view.state);
    if (!current || !view.state.doc.length) {
      return [];
    }
    if (current !== schema) {
      schema = current;
      draft = new Draft07(current);
    }
    try {
      JSON.parse(view.state.doc.toString());
    } catch (error) {
      return []; // the JSON syntax linter says what is wrong; half-typed JSON gets no schema errors
    }
    const parsed = parseJSONDocumentState(view.state);
    let errors = [];
    try {
      errors = draft.validate(parsed.data);
    } catch (error) {
      return [];
    }
    return errors.map((error) => {
      const data = error.data || {};
      let pointer = (data.pointer || "#").replace(/^#/, "");
      if (error.name === "NoAdditionalPropertiesError" && data.property !== undefined) {
        pointer += `/${String(data.property).replace(/~/g, "~0").replace(/\//g, "~1")}`;
      }
      const at = parsed.pointers.get(pointer);
      const key = KEY_ERRORS.has(error.name) && at && at.keyFrom !== undefined;
      const from = at ? (key ? at.keyFrom : at.valueFrom) : 0;
      const to = at ? (key ? at.keyTo : at.valueTo) : 0;
      return { from: from || 0, to: to || from || 0, severity: "error", source: "schema", message: readable(error.message) };
    });
  };
}

// Fields that name a flow, a desk or a schedule (the names come from the server: data-names-url).
const FLOW_REFERENCES = { goto: { flow: "flows" }, hours: { schedule: "schedules" }, enqueue: { desk: "desks" },
  route: { desk: "desks", to: "desks", else: "desks", desks: "desks" } };

/** What the string at `path` names: "nodes", "flows", "desks", "schedules", or null. */
export function referenceAt(kind, path, nodeType, successors) {
  const last = path[path.length - 1];
  if (kind === "site") {
    if (path[0] === "desks" && path.length === 3 && last === "hours") return "schedules";
    if (path[0] === "desks" && ((path.length === 4 && path[2] === "overflow" && last === "to") || (path.length === 3 && last === "failover"))) return "desks";
    return path.length === 2 && path[0] === "fallback" && last === "desk" ? "desks" : null;
  }
  if (path.length === 1) {
    return last === "start" ? "nodes" : null;
  }
  if (path[0] !== "nodes" || path.length < 3) {
    return null;
  }
  const field = path[2];
  if (field === "options" && (path.length === 4 || (path.length === 5 && last === "next"))) return "nodes";
  if (field === "rules" && path.length === 5 && last === "next") return "nodes";
  const references = FLOW_REFERENCES[nodeType] || {};
  if (references[field] && (path.length === 3 || (field === "desks" && path.length === 4))) return references[field];
  if (path.length !== 3) return null;
  const fields = successors.get(nodeType);
  if (fields) return fields.has(field) ? "nodes" : null;
  return [...successors.values()].some((known) => known.has(field)) ? "nodes" : null;
}

/** A completion source offering node names (from the text), and flow, desk and schedule names (`names()`). */
export function nameCompletion(kind, successors, names) {
  return (context) => {
    const node = syntaxTree(context.state).resolveInner(context.pos, -1);
    if (node.name !== "String" || context.pos <= node.from) {
      return null;
    }
    const path = pathAt(context.state, context.pos);
    const nodeType = path[0] === "nodes" && path.length > 2 ? valueAt(context.state, ["nodes", path[1], "type"]) : null;
    const what = referenceAt(kind, path, nodeType, successors());
    const known = what === "nodes" ? nodeNames(context.state) : what ? names()[what] || [] : [];
    if (!known.length) {
      return null;
    }
    const detail = { nodes: "node", flows: "flow", desks: "desk", schedules: "schedule" }[what];
    return {
      from: node.from + 1,
      to: node.to > node.from + 1 && context.state.sliceDoc(node.to - 1, node.to) === '"' ? node.to - 1 : node.to,
      options: known.map((name) => ({ label: name, type: "variable", detail })),
      validFor: /^[A-Za-z0-9_-]*$/,
    };
  };
}

function resolve(schema, root) {
  let current = schema;
  for (let hops = 0; current && typeof current.$ref === "string" && hops < 20; hops += 1) {
    if (!current.$ref.startsWith("#/")) {
      return null;
    }
    current = current.$ref.slice(2).split("/").reduce((at, key) => (at ? at[key.replace(/~1/g, "/").replace(/~0/g, "~")] : null), root);
  }
  return current && typeof current === "object" ? current : null;
}

/** The schema and every schema it may also have to satisfy (allOf, if/then, oneOf, anyOf), $refs followed. */
function alternatives(schema, root, found = [], depth = 0) {
  const current = resolve(schema, root);
  if (!current || found.includes(current) || depth > 8) {
    return found;
  }
  found.push(current);
  for (const part of [...(current.allOf || []), ...(current.oneOf || []), ...(current.anyOf || [])]) {
    alternatives(part, root, found, depth + 1);
    if (part && part.then) {
      alternatives(part.then, root, found, depth + 1);
    }
  }
  return found;
}

/** The string values the schema allows at `path` (enum and const), whatever the node's other fields say. */
export function allowedValues(root, path) {
  let schemas = alternatives(root, root);
  for (const step of path) {
    const next = [];
    for (const schema of schemas) {
      if (typeof step === "number" && schema.items) {
        next.push(schema.items);
      } else if (schema.properties && schema.properties[step]) {
        next.push(schema.properties[step]);
      } else if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
        next.push(schema.additionalProperties);
      }
    }
    schemas = next.flatMap((schema) => alternatives(schema, root));
  }
  const values = new Set();
  for (const schema of schemas) {
    (schema.enum || []).forEach((value) => typeof value === "string" && values.add(value));
    if (typeof schema.const === "string") {
      values.add(schema.const);
    }
  }
  return [...values];
}

/** A completion source offering the values the schema allows in the string at the cursor (node types...). */
export function valueCompletion(schema) {
  return (context) => {
    const root = schema();
    const node = syntaxTree(context.state).resolveInner(context.pos, -1);
    if (!root || node.name !== "String" || context.pos <= node.from || !node.parent || node.parent.name !== "Property") {
      return null;
    }
    const values = allowedValues(root, pathAt(context.state, context.pos));
    if (!values.length) {
      return null;
    }
    return {
      from: node.from + 1,
      to: node.to > node.from + 1 && context.state.sliceDoc(node.to - 1, node.to) === '"' ? node.to - 1 : node.to,
      options: values.map((value) => ({ label: value, type: "enum" })),
      validFor: /^[A-Za-z0-9_ -]*$/,
    };
  };
}

/** The schema with references to other files ("flow.schema.json#/$defs/dialTarget" in the site's schema)
 * replaced by "anything": the browser checks what this schema says; the server's checks cover the rest. */
export function withoutRemoteRefs(schema) {
  if (Array.isArray(schema)) {
    return schema.map(withoutRemoteRefs);
  }
  if (!schema || typeof schema !== "object") {
    return schema;
  }
  const copy = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!(key === "$ref" && typeof value === "string" && !value.startsWith("#"))) {
      copy[key] = withoutRemoteRefs(value);
    }
  }
  return copy;
}
