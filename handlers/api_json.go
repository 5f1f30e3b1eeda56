package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// apiMaxBody bounds request bodies: a ZApp description is a few KiB, so a
// MiB leaves room for big ones while keeping a client from filling memory.
const apiMaxBody = 1 << 20

// apiBadRequest is a request the API cannot read at all (malformed JSON,
// an unknown field, a bad query parameter): 400, naming the field when
// there is one.
type apiBadRequest struct {
	field   string
	message string
}

func (e *apiBadRequest) Error() string {
	if e.field == "" {
		return e.message
	}
	return e.field + ": " + e.message
}

// apiFail answers err in the API's error shape: requests it could not
// read are 400, store conflicts 409, everything else goes through
// problemOf like the pages' errors.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	var bad *apiBadRequest
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit), "")
	case errors.As(err, &bad):
		apiError(w, http.StatusBadRequest, "bad_request", bad.Error(), bad.field)
	case errors.Is(err, store.ErrConflict):
		apiError(w, http.StatusConflict, "conflict", err.Error(), "")
	default:
		s.apiProblem(w, r, err)
	}
}

// apiDecode reads one JSON object from the body into v, refusing unknown
// fields, trailing data and bodies over apiMaxBody: a typo in a field
// name is an error rather than a silently ignored setting.
func apiDecode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, apiMaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return &apiBadRequest{message: "the body must hold exactly one JSON object"}
	}
	return nil
}

// apiDecodeError turns encoding/json's errors into messages that name the
// offending field.
func apiDecodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return &apiBadRequest{message: "the body is empty: send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &apiBadRequest{message: "the JSON body ends too early"}
	case errors.As(err, &syntax):
		return &apiBadRequest{message: fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, err)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &apiBadRequest{message: fmt.Sprintf("the body must be a JSON object, not %s", typ.Value)}
		}
		return &apiBadRequest{field: field, message: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apiBadRequest{field: field, message: "unknown field"}
	}
	return &apiBadRequest{message: err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a number"
}

// apiIDParam reads a numeric path parameter; anything else is 404, as an
// unknown ID would be.
func apiIDParam(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrNotFound
	}
	return id, nil
}

// apiTime formats times the way every API field does: RFC 3339 in UTC.
type apiTime time.Time

func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

func (t *apiTime) UnmarshalJSON(data []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(data); err != nil {
		return err
	}
	*t = apiTime(v)
	return nil
}

func apiTimePtr(t *time.Time) *apiTime {
	if t == nil || t.IsZero() {
		return nil
	}
	v := apiTime(*t)
	return &v
}

// apiSize is an amount of memory in a request: a number of bytes or a
// string with a unit ("2GiB"), as in ZApp descriptions.
func apiSize(raw json.RawMessage, path string, errs *zapp.Errors) int64 {
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	var b zapp.Bytes
	if err := b.UnmarshalJSON(raw); err != nil || b < 0 {
		*errs = append(*errs, zapp.FieldError{Path: path, Message: `must be a size: a number of bytes or a string such as "2GiB"`})
		return 0
	}
	return int64(b)
}

// apiCores is an amount of CPU in a request: a number of cores (1.5) or a
// string ("1.5", "500m").
func apiCores(raw json.RawMessage, path string, errs *zapp.Errors) int64 {
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	var c zapp.MilliCores
	if err := c.UnmarshalJSON(raw); err != nil || c < 0 {
		*errs = append(*errs, zapp.FieldError{Path: path, Message: `must be a number of cores such as 1.5 or "500m"`})
		return 0
	}
	return int64(c)
}

// apiCoresNumber writes milli-cores as a number of cores.
func apiCoresNumber(milli int64) float64 { return float64(milli) / 1000 }
