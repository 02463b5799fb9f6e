package config

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of the declaration, for editors
// (yaml-language-server) and other tools. Parse enforces more than it can
// express: short names, duplicates, refused callers.
//
//go:embed invokers.schema.json
var Schema []byte
