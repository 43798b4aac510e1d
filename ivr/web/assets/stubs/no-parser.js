// Stand-in for codemirror-json-schema's YAML and JSON5 parsers: ivr documents are JSON only.
function unsupported() {
  throw new Error("only JSON documents are edited here");
}

export const parseYAMLDocumentState = unsupported;
export const parseJSON5DocumentState = unsupported;
export const parseJSON5Document = unsupported;
