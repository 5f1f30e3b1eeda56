package zapp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Bytes is an amount of memory in bytes. It decodes from a JSON number of
// bytes or from a string with a 1024-based unit (see ParseBytes) and always
// encodes as a JSON number of bytes, so stored descriptions stay canonical.
type Bytes int64

// Common sizes, 1024-based.
const (
	KiB Bytes = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

// ErrSize reports a size or core count that cannot be parsed.
var ErrSize = errors.New("invalid size")

var byteUnits = map[string]Bytes{
	"": 1, "b": 1,
	"k": KiB, "kb": KiB, "kib": KiB,
	"m": MiB, "mb": MiB, "mib": MiB,
	"g": GiB, "gb": GiB, "gib": GiB,
	"t": TiB, "tb": TiB, "tib": TiB,
	"p": PiB, "pb": PiB, "pib": PiB,
}

// ParseBytes parses "1024", "512MiB", "2G", "1.5 GiB" and the like. Every
// unit is 1024-based whatever its spelling (K, KB and KiB all mean 1024
// bytes), because that is what people mean when they size a container; units
// are case-insensitive. Fractions are rounded to the nearest byte.
func ParseBytes(s string) (Bytes, error) {
	num, unit := splitUnit(strings.TrimSpace(s))
	mult, ok := byteUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("%w %q: unknown unit %q (use B, KiB, MiB, GiB, TiB)", ErrSize, s, unit)
	}
	r, ok := parseDecimal(num)
	if !ok {
		return 0, fmt.Errorf("%w %q: want a number of bytes or a number with a unit such as \"512MiB\"", ErrSize, s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(mult)))
	n, ok := roundRat(r)
	if !ok {
		return 0, fmt.Errorf("%w %q: too large", ErrSize, s)
	}
	return Bytes(n), nil
}

// splitUnit separates the numeric prefix of s from its unit suffix.
func splitUnit(s string) (num, unit string) {
	i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+')
	})
	if i < 0 {
		return s, ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
}

// parseDecimal parses a plain decimal number (no exponent, no sign other
// than a leading minus) exactly.
func parseDecimal(s string) (*big.Rat, bool) {
	if s == "" || strings.ContainsAny(s, "eE+") {
		return nil, false
	}
	body := strings.TrimPrefix(s, "-")
	if body == "" || body == "." || strings.Count(body, ".") > 1 || strings.Contains(body, "-") {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// roundRat rounds r to the nearest integer (half away from zero) and reports
// whether it fits in an int64.
func roundRat(r *big.Rat) (int64, bool) {
	half := big.NewRat(1, 2)
	if r.Sign() < 0 {
		half.Neg(half)
	}
	x := new(big.Rat).Add(r, half)
	q := new(big.Int).Quo(x.Num(), x.Denom())
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// String formats b with the largest 1024-based unit that shows it exactly
// with at most two decimals: "512 MiB", "2 GiB", "1.5 GiB", "1000 B".
func (b Bytes) String() string {
	units := []struct {
		size Bytes
		name string
	}{{PiB, "PiB"}, {TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}}
	abs := b
	if abs < 0 {
		abs = -abs
	}
	for _, u := range units {
		if abs >= u.size && abs <= math.MaxInt64/100 && (abs*100)%u.size == 0 {
			return formatHundredths(int64(b)*100/int64(u.size)) + " " + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + " B"
}

// formatHundredths formats n/100 without trailing zeros.
func formatHundredths(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	s := sign + strconv.FormatInt(n/100, 10)
	if frac := n % 100; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%02d", frac), "0")
	}
	return s
}

// Set implements flag.Value so that sizes can be given on the command line.
func (b *Bytes) Set(s string) error {
	v, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalJSON writes the number of bytes.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(b), 10), nil
}

// UnmarshalJSON accepts a number of bytes or a string understood by
// ParseBytes.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	v, msg := bytesFromNode(parseLeaf(data))
	if msg != "" {
		return fmt.Errorf("%w: %s", ErrSize, msg)
	}
	*b = v
	return nil
}

// MilliCores is an amount of CPU in thousandths of a core. JSON carries it
// as a number of cores (0.5 is 500 milli-cores), as the original format did.
type MilliCores int64

// maxCores bounds core counts so that milli-cores never overflow and an
// absurd value is reported instead of silently wrapping.
const maxCores = 1 << 20

// ParseCores parses a number of cores ("2", "0.5") or Kubernetes-style
// milli-cores ("500m"). Values are rounded to the nearest milli-core.
func ParseCores(s string) (MilliCores, error) {
	s = strings.TrimSpace(s)
	scale := int64(1000)
	if strings.HasSuffix(s, "m") {
		s, scale = strings.TrimSuffix(s, "m"), 1
	}
	r, ok := parseDecimal(s)
	if !ok {
		return 0, fmt.Errorf("%w %q: want a number of cores such as 2 or 0.5", ErrSize, s)
	}
	return coresFromRat(r, scale)
}

func coresFromRat(r *big.Rat, scale int64) (MilliCores, error) {
	r.Mul(r, new(big.Rat).SetInt64(scale))
	n, ok := roundRat(r)
	if !ok || n > maxCores*1000 || n < -maxCores*1000 {
		return 0, fmt.Errorf("%w: more than %d cores", ErrSize, maxCores)
	}
	return MilliCores(n), nil
}

// Cores returns the number of cores as a decimal string without trailing
// zeros ("0.5", "2").
func (c MilliCores) Cores() string {
	sign := ""
	n := int64(c)
	if n < 0 {
		sign, n = "-", -n
	}
	s := sign + strconv.FormatInt(n/1000, 10)
	if frac := n % 1000; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%03d", frac), "0")
	}
	return s
}

// String formats c for people: "0.5 cores", "1 core", "2 cores".
func (c MilliCores) String() string {
	if c == 1000 {
		return "1 core"
	}
	return c.Cores() + " cores"
}

// Set implements flag.Value.
func (c *MilliCores) Set(s string) error {
	v, err := ParseCores(s)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// MarshalJSON writes the number of cores.
func (c MilliCores) MarshalJSON() ([]byte, error) {
	return []byte(c.Cores()), nil
}

// UnmarshalJSON accepts a number of cores or a string understood by
// ParseCores.
func (c *MilliCores) UnmarshalJSON(data []byte) error {
	v, msg := coresFromNode(parseLeaf(data))
	if msg != "" {
		return fmt.Errorf("%w: %s", ErrSize, msg)
	}
	*c = v
	return nil
}

// parseLeaf turns a single JSON value into a node; a syntax error yields a
// node of kind invalid so that the caller reports a type error.
func parseLeaf(data []byte) *node {
	n, err := parseTree(data)
	if err != nil {
		return &node{kind: kindInvalid}
	}
	return n
}

// bytesFromNode decodes a size; msg is empty on success.
func bytesFromNode(n *node) (Bytes, string) {
	switch n.kind {
	case kindNull:
		return 0, ""
	case kindNumber:
		r, ok := ratFromNumber(n.text)
		if !ok || !r.IsInt() {
			return 0, "must be a whole number of bytes or a string such as \"512MiB\", got " + n.text
		}
		if !r.Num().IsInt64() {
			return 0, "too large: " + n.text
		}
		return Bytes(r.Num().Int64()), ""
	case kindString:
		b, err := ParseBytes(n.text)
		if err != nil {
			return 0, fmt.Sprintf("invalid size %q: want bytes or a number with a unit such as \"512MiB\" or \"2GiB\"", n.text)
		}
		return b, ""
	}
	return 0, "must be a number of bytes or a string such as \"512MiB\", got " + n.kindName()
}

// coresFromNode decodes a core count; msg is empty on success.
func coresFromNode(n *node) (MilliCores, string) {
	switch n.kind {
	case kindNull:
		return 0, ""
	case kindNumber:
		r, ok := ratFromNumber(n.text)
		if !ok {
			return 0, "too large: " + n.text
		}
		c, err := coresFromRat(r, 1000)
		if err != nil {
			return 0, "too large: " + n.text
		}
		return c, ""
	case kindString:
		c, err := ParseCores(n.text)
		if err != nil {
			return 0, fmt.Sprintf("invalid core count %q: want a number such as 2 or 0.5", n.text)
		}
		return c, ""
	}
	return 0, "must be a number of cores, got " + n.kindName()
}

// ratFromNumber converts JSON number text exactly. Exponents are bounded
// because big.Rat would otherwise allocate a number with a billion digits
// for "1e1000000000".
func ratFromNumber(text string) (*big.Rat, bool) {
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+"))
		if err != nil || exp > 30 || exp < -30 {
			return nil, false
		}
	}
	return new(big.Rat).SetString(text)
}
