package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes, validates and resolves a declaration. name is used in error
// messages (usually the file path). Any problem yields a *ValidationError
// listing all of them.
func Parse(name string, data []byte) (*Declaration, error) {
	d := &decoder{errList: errList{file: name}, pos: map[string]Position{}}
	if len(data) > MaxFileSize {
		d.add(Position{1, 1}, "", "file is larger than %d bytes, the most a declaration may be", MaxFileSize)
		return nil, d.err()
	}
	root, err := d.parseYAML(data)
	if err != nil {
		return nil, err
	}
	decl := &Declaration{File: name}
	d.declaration(root, decl)
	// Semantic rules run even after structural problems (a mistyped field
	// is reported once, not again as missing), so one run shows everything.
	validate(decl, d)
	if err := d.err(); err != nil {
		return nil, err
	}
	return decl, nil
}

type decoder struct {
	errList
	// pos maps a field path ("grants[0].members[1]") to its position;
	// validation uses it to place its messages.
	pos map[string]Position
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

func (d *decoder) parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(Position{1, 1}, "", "the declaration is empty")
			return nil, d.err()
		}
		pos := Position{Line: 1, Column: 1}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			if n, convErr := strconv.Atoi(m[1]); convErr == nil {
				pos.Line = n
			}
		}
		d.add(pos, "", "not valid YAML: %s", msg)
		return nil, d.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.add(Position{extra.Line, extra.Column}, "", "only one YAML document is allowed; found another")
		return nil, d.err()
	} else if !errors.Is(err, io.EOF) {
		d.add(Position{1, 1}, "", "not valid YAML after the first document: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, d.err()
	}
	if len(doc.Content) == 0 {
		d.add(Position{1, 1}, "", "the declaration is empty")
		return nil, d.err()
	}
	// The size cap counts bytes; aliases can make a small file stand for a
	// huge tree (a "billion laughs"). Count what they expand to before any of
	// it is walked.
	if n := expandedNodes(doc.Content[0], MaxExpandedNodes); n > MaxExpandedNodes {
		d.add(Position{1, 1}, "", "YAML aliases expand the declaration to more than %d nodes; repeat fewer or larger anchors, or write the entries out", MaxExpandedNodes)
		return nil, d.err()
	}
	return doc.Content[0], nil
}

// MaxExpandedNodes bounds the YAML nodes a declaration stands for once its
// aliases are expanded: far above what a real declaration holds, far below
// what would cost noticeable memory or time.
const MaxExpandedNodes = 100_000

// expandedNodes counts the nodes of n with every alias expanded, stopping
// once the count passes limit (it then returns a number above limit). Each
// anchor is counted once and reused, so the count costs one pass over the
// nodes as written; an alias cycle counts as too many.
func expandedNodes(n *yaml.Node, limit int) int {
	memo := map[*yaml.Node]int{}
	const inProgress = -1
	var count func(n *yaml.Node) int
	count = func(n *yaml.Node) int {
		if n == nil {
			return 0
		}
		if n.Kind == yaml.AliasNode {
			return 1 + count(n.Alias)
		}
		if c, ok := memo[n]; ok {
			if c == inProgress {
				return limit + 1
			}
			return c
		}
		memo[n] = inProgress
		total := 1
		for _, ch := range n.Content {
			total += count(ch)
			if total > limit {
				break
			}
		}
		memo[n] = min(total, limit+1)
		return memo[n]
	}
	return count(n)
}

func at(n *yaml.Node) Position { return Position{Line: n.Line, Column: n.Column} }

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return "a scalar (" + n.ShortTag() + ")"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unexpected node"
}

type fieldFunc func(val *yaml.Node, path string)

// mapping walks a mapping node, dispatching each known key and reporting
// duplicate and unknown keys. It returns false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]fieldFunc) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.add(at(n), path, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for _, kv := range d.mergedPairs(n, path) {
		k, v := kv[0], kv[1]
		if k.Kind != yaml.ScalarNode {
			d.add(at(k), path, "keys must be strings, got %s", kindName(k))
			continue
		}
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		if seen[k.Value] {
			d.add(at(k), kp, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			d.add(at(k), kp, "unknown field %q (known: %s)", k.Value, knownKeys(fields))
			continue
		}
		d.pos[kp] = at(deref(v))
		f(deref(v), kp)
	}
	return true
}

// mergedPairs lists a mapping's key/value pairs, expanding YAML merge keys
// ("<<: *defaults"): merged entries come after the explicit ones and are
// dropped where an explicit key of the same name exists.
func (d *decoder) mergedPairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var explicit, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			explicit = append(explicit, [2]*yaml.Node{k, v})
			continue
		}
		sources := []*yaml.Node{deref(v)}
		if sources[0].Kind == yaml.SequenceNode {
			sources = sources[0].Content
		}
		for _, src := range sources {
			src = deref(src)
			if src.Kind != yaml.MappingNode {
				d.add(at(src), path, "a merge key (<<) needs a mapping or a list of mappings, got %s", kindName(src))
				continue
			}
			for j := 0; j+1 < len(src.Content); j += 2 {
				merged = append(merged, [2]*yaml.Node{deref(src.Content[j]), src.Content[j+1]})
			}
		}
	}
	have := map[string]bool{}
	for _, kv := range explicit {
		have[kv[0].Value] = true
	}
	for _, kv := range merged {
		if !have[kv[0].Value] {
			have[kv[0].Value] = true
			explicit = append(explicit, kv)
		}
	}
	return explicit
}

func knownKeys(fields map[string]fieldFunc) string {
	return strings.Join(slices.Sorted(maps.Keys(fields)), ", ")
}

// shaped reports whether n is present (null is absent) and a node of kind
// and, when tag is set, of that tag; a node of another shape is reported
// as "want <what>".
func (d *decoder) shaped(n *yaml.Node, path string, kind yaml.Kind, tag, what string) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != kind || (tag != "" && n.ShortTag() != tag) {
		d.add(at(n), path, "want %s, got %s", what, kindName(n))
		return false
	}
	return true
}

// sequence walks a list node; null counts as an empty list.
func (d *decoder) sequence(n *yaml.Node, path string, each func(i int, item *yaml.Node, path string)) {
	if !d.shaped(n, path, yaml.SequenceNode, "", "a list") {
		return
	}
	for i, item := range n.Content {
		item = deref(item)
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.pos[ip] = at(item)
		each(i, item, ip)
	}
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	if !d.shaped(n, path, yaml.ScalarNode, "!!str", "a string") {
		return
	}
	*dst = n.Value
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) {
	if !d.shaped(n, path, yaml.ScalarNode, "!!bool", "true or false") {
		return
	}
	v, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		// YAML 1.1 spellings (yes/on) are tagged !!bool by some encoders
		// but never by yaml.v3; keep the message honest anyway.
		d.add(at(n), path, "want true or false, got %q", n.Value)
		return
	}
	*dst = v
}

func (d *decoder) integer(n *yaml.Node, path string, dst *int) {
	if !d.shaped(n, path, yaml.ScalarNode, "!!int", "an integer") {
		return
	}
	v, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		d.add(at(n), path, "want an integer, got %q", n.Value)
		return
	}
	*dst = int(v)
}

// stringMap decodes a mapping of scalars into strings (numbers and booleans
// are kept as written: backend settings are strings to Terraform).
func (d *decoder) stringMap(n *yaml.Node, path string, dst *map[string]string) {
	if !d.shaped(n, path, yaml.MappingNode, "", "a mapping") {
		return
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.add(at(k), path, "keys must be strings, got %s", kindName(k))
			continue
		}
		kp := path + "." + k.Value
		if _, dup := out[k.Value]; dup {
			d.add(at(k), kp, "duplicate key %q", k.Value)
			continue
		}
		if v.Kind != yaml.ScalarNode || isNull(v) {
			d.add(at(v), kp, "want a string, number or boolean, got %s", kindName(v))
			continue
		}
		d.pos[kp] = at(v)
		out[k.Value] = v.Value
	}
	*dst = out
}

func (d *decoder) declaration(n *yaml.Node, decl *Declaration) {
	d.pos[""] = at(n)
	d.mapping(n, "", map[string]fieldFunc{
		"apiVersion": func(v *yaml.Node, p string) { d.str(v, p, &decl.APIVersion) },
		"project":    func(v *yaml.Node, p string) { d.str(v, p, &decl.Project) },
		"location":   func(v *yaml.Node, p string) { d.str(v, p, &decl.Location) },
		"terraform": func(v *yaml.Node, p string) {
			if isNull(v) {
				return
			}
			d.mapping(v, p, map[string]fieldFunc{
				"backend": func(v *yaml.Node, p string) {
					if isNull(v) {
						return
					}
					b := &Backend{}
					decl.Terraform.Backend = b
					d.mapping(v, p, map[string]fieldFunc{
						"type":   func(v *yaml.Node, p string) { d.str(v, p, &b.Type) },
						"config": func(v *yaml.Node, p string) { d.stringMap(v, p, &b.Config) },
					})
				},
			})
		},
		"serviceAccounts": func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, item *yaml.Node, p string) {
				sa := ServiceAccount{Pos: at(item)}
				d.mapping(item, p, map[string]fieldFunc{
					"name":        func(v *yaml.Node, p string) { d.str(v, p, &sa.Name) },
					"accountId":   func(v *yaml.Node, p string) { d.str(v, p, &sa.AccountID) },
					"displayName": func(v *yaml.Node, p string) { d.str(v, p, &sa.DisplayName) },
					"description": func(v *yaml.Node, p string) { d.str(v, p, &sa.Description) },
				})
				decl.ServiceAccounts = append(decl.ServiceAccounts, sa)
			})
		},
		"smokeTest": func(v *yaml.Node, p string) {
			if isNull(v) {
				return
			}
			d.mapping(v, p, map[string]fieldFunc{
				"tokenCreator": func(v *yaml.Node, p string) { d.str(v, p, &decl.SmokeTest.TokenCreator) },
			})
		},
		"grants": func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, item *yaml.Node, p string) {
				g := Grant{Pos: at(item)}
				var service, function string
				d.mapping(item, p, map[string]fieldFunc{
					"service":  func(v *yaml.Node, p string) { d.str(v, p, &service) },
					"function": func(v *yaml.Node, p string) { d.str(v, p, &function) },
					"location": func(v *yaml.Node, p string) { d.str(v, p, &g.Location) },
					"members": func(v *yaml.Node, p string) {
						d.sequence(v, p, func(_ int, item *yaml.Node, p string) {
							var m string
							d.str(item, p, &m)
							g.Members = append(g.Members, m)
						})
					},
					"authoritative": func(v *yaml.Node, p string) { d.boolean(v, p, &g.Authoritative) },
					"public":        func(v *yaml.Node, p string) { d.boolean(v, p, &g.Public) },
					"invoke": func(v *yaml.Node, p string) {
						if isNull(v) {
							return
						}
						inv := &g.Invoke
						d.mapping(v, p, map[string]fieldFunc{
							"method":        func(v *yaml.Node, p string) { d.str(v, p, &inv.Method) },
							"path":          func(v *yaml.Node, p string) { d.str(v, p, &inv.Path) },
							"body":          func(v *yaml.Node, p string) { d.str(v, p, &inv.Body) },
							"expectStatus":  func(v *yaml.Node, p string) { d.integer(v, p, &inv.ExpectStatus) },
							"as":            func(v *yaml.Node, p string) { d.str(v, p, &inv.As) },
							"refusedCaller": func(v *yaml.Node, p string) { d.str(v, p, &inv.RefusedCaller) },
							"skip":          func(v *yaml.Node, p string) { d.boolean(v, p, &inv.Skip) },
						})
					},
				})
				// Both or neither is reported by validate; record what was written.
				g.rawService, g.rawFunction = service, function
				switch {
				case service != "" && function != "":
				case service != "":
					g.Kind, g.Name = KindService, service
				case function != "":
					g.Kind, g.Name = KindFunction, function
				}
				decl.Grants = append(decl.Grants, g)
			})
		},
	})
}
