package zapp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// ErrCommand reports a command that cannot be split into arguments.
var ErrCommand = errors.New("invalid command")

// SplitCommand splits a command line into arguments like Python's
// shlex.split (POSIX mode), which is what the original handed to Docker:
// blanks separate arguments, single quotes keep everything literally,
// double quotes keep everything but \" and \\, and a backslash outside
// quotes escapes the next character. There is no expansion of variables,
// globs or comments.
func SplitCommand(cmd string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	const (
		plain = iota
		single
		double
	)
	state := plain
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch state {
		case plain:
			switch c {
			case ' ', '\t', '\n', '\r':
				if inArg {
					args = append(args, cur.String())
					cur.Reset()
					inArg = false
				}
			case '\'':
				state, inArg = single, true
			case '"':
				state, inArg = double, true
			case '\\':
				if i+1 == len(cmd) {
					return nil, fmt.Errorf("%w: nothing after the final backslash", ErrCommand)
				}
				i++
				cur.WriteByte(cmd[i])
				inArg = true
			default:
				cur.WriteByte(c)
				inArg = true
			}
		case single:
			if c == '\'' {
				state = plain
			} else {
				cur.WriteByte(c)
			}
		case double:
			switch {
			case c == '"':
				state = plain
			case c == '\\' && i+1 < len(cmd) && (cmd[i+1] == '"' || cmd[i+1] == '\\'):
				i++
				cur.WriteByte(cmd[i])
			default:
				cur.WriteByte(c)
			}
		}
	}
	if state != plain {
		return nil, fmt.Errorf("%w: missing closing quote", ErrCommand)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// ExpandCommand splits cmd into arguments and then expands the templates
// of each one, so that a value containing blanks or quotes stays one
// argument.
func ExpandCommand(cmd string, vars Vars) ([]string, error) {
	args, err := SplitCommand(cmd)
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if args[i], err = Expand(a, vars); err != nil {
			return nil, err
		}
	}
	return args, nil
}

// ImageRef returns the reference Docker should use for image: an image
// without a tag or digest gets ":latest", as the docker CLI does. (The
// original refused to start such an image; Zoe accepts it and documents
// the rule.) The short form is kept ("zapps/spark:latest", not
// "docker.io/zapps/spark:latest"). An invalid reference is returned
// unchanged; validation reports it.
func ImageRef(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

// checkImage returns the problem with an image reference, or "".
func checkImage(image string) string {
	if image == "" {
		return "must not be empty"
	}
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		msg := fmt.Sprintf("%q is not a valid image reference", image)
		if detail := strings.TrimPrefix(err.Error(), reference.ErrReferenceInvalidFormat.Error()+": "); detail != err.Error() {
			msg += ": " + detail
		}
		return msg
	}
	return ""
}
