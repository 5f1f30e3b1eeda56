package zapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The decoder works on a small JSON tree instead of encoding/json's struct
// decoding so that it can report every problem with its path at once,
// reject duplicate keys, and keep byte offsets for ordering errors.

type kind uint8

const (
	kindInvalid kind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

type node struct {
	kind  kind
	off   int64    // byte offset where the value starts (approximately: after the previous token)
	text  string   // string value or number text
	b     bool     // boolean value
	keys  []string // object keys, in document order
	elems []*node  // object values (parallel to keys) or array elements
	dups  []dupKey // repeated object keys, reported by the decoder with their path
}

type dupKey struct {
	key string
	off int64
}

func (n *node) kindName() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	case kindObject:
		return "object"
	}
	return "invalid value"
}

// syntaxError is a JSON syntax problem with its position.
type syntaxError struct {
	off       int64
	line, col int
	msg       string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, column %d (byte %d): %s", e.line, e.col, e.off, e.msg)
}

func newSyntaxError(data []byte, off int64, msg string) *syntaxError {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return &syntaxError{off: off, line: line, col: col, msg: msg}
}

// parseTree parses exactly one JSON value; trailing data is an error.
func parseTree(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &treeParser{dec: dec, data: data}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, newSyntaxError(data, skipSpace(data, off), "unexpected data after the top-level value")
	}
	return n, nil
}

func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\n', '\r':
			off++
			continue
		}
		break
	}
	return off
}

// maxDepth bounds nesting, which a description needs only a few levels
// of, so that a hostile document cannot recurse the parser deeply.
const maxDepth = 64

type treeParser struct {
	dec   *json.Decoder
	data  []byte
	depth int
}

func (p *treeParser) token() (json.Token, int64, error) {
	off := skipSpace(p.data, p.dec.InputOffset())
	// Skip the separators that Token consumes silently.
	if off < int64(len(p.data)) && (p.data[off] == ',' || p.data[off] == ':') {
		off = skipSpace(p.data, off+1)
	}
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, 0, newSyntaxError(p.data, se.Offset, se.Error())
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, 0, newSyntaxError(p.data, int64(len(p.data)), "unexpected end of input")
		}
		return nil, 0, newSyntaxError(p.data, off, err.Error())
	}
	return tok, off, nil
}

func (p *treeParser) value() (*node, error) {
	tok, off, err := p.token()
	if err != nil {
		return nil, err
	}
	return p.fromToken(tok, off)
}

func (p *treeParser) fromToken(tok json.Token, off int64) (*node, error) {
	switch t := tok.(type) {
	case nil:
		return &node{kind: kindNull, off: off}, nil
	case bool:
		return &node{kind: kindBool, off: off, b: t}, nil
	case json.Number:
		return &node{kind: kindNumber, off: off, text: string(t)}, nil
	case string:
		return &node{kind: kindString, off: off, text: t}, nil
	case json.Delim:
		if p.depth++; p.depth > maxDepth {
			return nil, newSyntaxError(p.data, off, fmt.Sprintf("nested deeper than %d levels", maxDepth))
		}
		defer func() { p.depth-- }()
		switch t {
		case '[':
			n := &node{kind: kindArray, off: off}
			for p.dec.More() {
				e, err := p.value()
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
			if _, _, err := p.token(); err != nil {
				return nil, err
			}
			return n, nil
		case '{':
			n := &node{kind: kindObject, off: off}
			seen := map[string]bool{}
			for p.dec.More() {
				tok, koff, err := p.token()
				if err != nil {
					return nil, err
				}
				key, _ := tok.(string)
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				if seen[key] {
					n.dups = append(n.dups, dupKey{key: key, off: koff})
					continue
				}
				seen[key] = true
				n.keys = append(n.keys, key)
				n.elems = append(n.elems, v)
			}
			if _, _, err := p.token(); err != nil {
				return nil, err
			}
			return n, nil
		}
	}
	return nil, newSyntaxError(p.data, off, fmt.Sprintf("unexpected token %v", tok))
}
