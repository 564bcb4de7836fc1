package config

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// node is a YAML node with aliases and merge keys (<<) resolved, that
// remembers the file it came from so errors in a destination file name that
// file after the deep merge.
type node struct {
	kind      yaml.Kind // ScalarNode, SequenceNode or MappingNode
	tag       string    // short tag: !!str, !!int, !!null, ...
	value     string    // scalars only
	line, col int
	file      string
	pairs     []pair  // mappings, in file order
	items     []*node // sequences
	cred      bool    // holds a Rails credential rendered by ERB (erb.go)
}

type pair struct{ key, val *node }

const (
	scalarKind  = yaml.ScalarNode
	seqKind     = yaml.SequenceNode
	mappingKind = yaml.MappingNode
)

// maxNodes bounds the size of a document after alias expansion, so that a
// small file of nested aliases cannot exhaust memory.
const maxNodes = 100_000

// maxDepth bounds nesting.
const maxDepth = 200

type converter struct {
	file   string
	count  int
	active map[*yaml.Node]bool // alias targets being expanded
}

// parseYAML parses data (from file) into a node tree. An empty document is an
// empty mapping.
func parseYAML(file string, data []byte) (*node, *Error) {
	var doc yaml.Node
	if err := unmarshalSafe(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	c := &converter{file: file, active: map[*yaml.Node]bool{}}
	if doc.Kind == 0 || (doc.Kind == yaml.DocumentNode && len(doc.Content) == 0) {
		return &node{kind: yaml.MappingNode, tag: "!!map", file: file}, nil
	}
	n, e := c.convert(&doc, "", 0)
	if e != nil {
		return nil, e
	}
	return n, nil
}

// unmarshalSafe is yaml.Unmarshal that turns a panic inside the parser into
// an error: Load must never panic on user input.
func unmarshalSafe(data []byte, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(data, doc)
}

func (c *converter) errAt(y *yaml.Node, path, msg string) *Error {
	return &Error{File: c.file, Line: y.Line, Col: y.Column, Path: path, Msg: msg}
}

func (c *converter) convert(y *yaml.Node, path string, depth int) (*node, *Error) {
	c.count++
	if c.count > maxNodes {
		return nil, c.errAt(y, path, "document too large (too many nodes after expanding aliases)")
	}
	if depth > maxDepth {
		return nil, c.errAt(y, path, "document nested too deeply")
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: yaml.MappingNode, tag: "!!map", line: y.Line, col: y.Column, file: c.file}, nil
		}
		return c.convert(y.Content[0], path, depth)
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, c.errAt(y, path, "unknown alias *"+y.Value)
		}
		if c.active[y.Alias] {
			return nil, c.errAt(y, path, "alias *"+y.Value+" refers to a node that contains it")
		}
		c.active[y.Alias] = true
		n, err := c.convert(y.Alias, path, depth+1)
		delete(c.active, y.Alias)
		return n, err
	case yaml.ScalarNode:
		return &node{kind: yaml.ScalarNode, tag: y.ShortTag(), value: y.Value, line: y.Line, col: y.Column, file: c.file}, nil
	case yaml.SequenceNode:
		n := &node{kind: yaml.SequenceNode, tag: "!!seq", line: y.Line, col: y.Column, file: c.file}
		for i, it := range y.Content {
			cn, err := c.convert(it, indexPath(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, cn)
		}
		return n, nil
	case yaml.MappingNode:
		return c.mapping(y, path, depth)
	}
	return nil, c.errAt(y, path, "unsupported YAML node")
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// key converts a mapping key, which must be a scalar (possibly via alias).
func (c *converter) key(k *yaml.Node, path string) (*node, *Error) {
	for i := 0; k.Kind == yaml.AliasNode && k.Alias != nil && i < 10; i++ {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return nil, c.errAt(k, path, "keys must be strings")
	}
	c.count++
	return &node{kind: yaml.ScalarNode, tag: k.ShortTag(), value: k.Value, line: k.Line, col: k.Column, file: c.file}, nil
}

func (c *converter) mapping(y *yaml.Node, path string, depth int) (*node, *Error) {
	n := &node{kind: yaml.MappingNode, tag: "!!map", line: y.Line, col: y.Column, file: c.file}
	// Explicit keys first, so that merged (<<) keys never override them.
	seen := map[string]bool{}
	first := map[string]*node{}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k := y.Content[i]
		if isMergeKey(k) {
			continue
		}
		kn, err := c.key(k, path)
		if err != nil {
			return nil, err
		}
		if prev, dup := first[kn.value]; dup {
			return nil, &Error{File: c.file, Line: kn.line, Col: kn.col, Path: joinPath(path, kn.value),
				Msg: "duplicate key (first defined at line " + strconv.Itoa(prev.line) + ")"}
		}
		first[kn.value] = kn
		seen[kn.value] = true
	}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if isMergeKey(k) {
			src, err := c.convert(v, path, depth+1)
			if err != nil {
				return nil, err
			}
			var srcs []*node
			switch src.kind {
			case yaml.MappingNode:
				srcs = []*node{src}
			case yaml.SequenceNode:
				srcs = src.items
			}
			if len(srcs) == 0 && !(src.kind == yaml.SequenceNode) {
				return nil, c.errAt(k, path, "merge key << must be a map or a list of maps")
			}
			for _, s := range srcs {
				if s.kind != yaml.MappingNode {
					return nil, c.errAt(k, path, "merge key << must be a map or a list of maps")
				}
				for _, p := range s.pairs {
					if !seen[p.key.value] {
						seen[p.key.value] = true
						n.pairs = append(n.pairs, p)
					}
				}
			}
			continue
		}
		kn := first[keyValue(k)]
		vn, err := c.convert(v, joinPath(path, kn.value), depth+1)
		if err != nil {
			return nil, err
		}
		n.pairs = append(n.pairs, pair{kn, vn})
	}
	return n, nil
}

func keyValue(k *yaml.Node) string {
	for i := 0; k.Kind == yaml.AliasNode && k.Alias != nil && i < 10; i++ {
		k = k.Alias
	}
	return k.Value
}

// mergeNodes deep-merges over onto base without modifying either: mappings
// merge key by key, recursively; anything else in over replaces base.
func mergeNodes(base, over *node) *node {
	if base == nil {
		return over
	}
	if over == nil {
		return base
	}
	if base.kind != yaml.MappingNode || over.kind != yaml.MappingNode {
		return over
	}
	out := *base
	out.pairs = append([]pair(nil), base.pairs...)
	idx := make(map[string]int, len(out.pairs))
	for i, p := range out.pairs {
		idx[p.key.value] = i
	}
	for _, p := range over.pairs {
		if i, ok := idx[p.key.value]; ok {
			out.pairs[i] = pair{out.pairs[i].key, mergeNodes(out.pairs[i].val, p.val)}
			continue
		}
		idx[p.key.value] = len(out.pairs)
		out.pairs = append(out.pairs, p)
	}
	return &out
}

// get returns the value of key in mapping n, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != yaml.MappingNode {
		return nil
	}
	for _, p := range n.pairs {
		if p.key.value == key {
			return p.val
		}
	}
	return nil
}

func isNull(n *node) bool {
	return n == nil || (n.kind == yaml.ScalarNode && n.tag == "!!null")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
