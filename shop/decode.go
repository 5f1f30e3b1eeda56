package shop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zoe-analytics/zoe/zapp"
)

// field is one key of a strictly decoded JSON object. set decodes the raw
// value and returns what is wrong with it, or "".
type field struct {
	name     string
	required bool
	set      func(raw json.RawMessage) string
}

// decodeObject decodes the JSON object raw at path: every key must be one
// of fields, every required field present, and each value of the right
// type. It returns every problem found, in key order.
func decodeObject(path string, raw json.RawMessage, fields []field) zapp.Errors {
	var obj map[string]json.RawMessage
	if kind := jsonKind(raw); kind != "an object" {
		return zapp.Errors{{Path: path, Message: "want an object, got " + kind}}
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return zapp.Errors{{Path: path, Message: err.Error()}}
	}
	var errs zapp.Errors
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.name] = true
		v, ok := obj[f.name]
		if !ok {
			if f.required {
				errs = append(errs, zapp.FieldError{Path: join(path, f.name), Message: "required"})
			}
			continue
		}
		if msg := f.set(v); msg != "" {
			errs = append(errs, zapp.FieldError{Path: join(path, f.name), Message: msg})
		}
	}
	var unknown []string
	for k := range obj {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.name
		}
		errs = append(errs, zapp.FieldError{Path: join(path, k), Message: "unknown field (known: " + strings.Join(names, ", ") + ")"})
	}
	return errs
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func str(dst *string, nonEmpty bool) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		if k := jsonKind(raw); k != "a string" {
			return "want a string, got " + k
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return err.Error()
		}
		if nonEmpty && strings.TrimSpace(*dst) == "" {
			return "must not be empty"
		}
		return ""
	}
}

func boolean(dst *bool) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		if k := jsonKind(raw); k != "a boolean" {
			return "want true or false, got " + k
		}
		_ = json.Unmarshal(raw, dst)
		return ""
	}
}

func strList(dst *[]string) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		if k := jsonKind(raw); k != "a list" {
			return "want a list of strings, got " + k
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err.Error()
		}
		out := make([]string, 0, len(items))
		for i, it := range items {
			var s string
			if k := jsonKind(it); k != "a string" {
				return fmt.Sprintf("[%d]: want a string, got %s", i, k)
			}
			if err := json.Unmarshal(it, &s); err != nil {
				return err.Error()
			}
			out = append(out, s)
		}
		*dst = out
		return ""
	}
}

// integer decodes a whole JSON number; the original Zoe wrote parameter
// bounds such as 536870912 as plain numbers.
func integer(dst *int64, set *bool) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		if k := jsonKind(raw); k != "a number" {
			return "want a whole number, got " + k
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil {
			return fmt.Sprintf("want a whole number, got %s", bytes.TrimSpace(raw))
		}
		*dst = n
		if set != nil {
			*set = true
		}
		return ""
	}
}
