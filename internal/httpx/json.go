// Package httpx is the HTTP plumbing every function shares: the router that authenticates and
// logs each request, JSON bodies in and out, and problem responses.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"streamspace/internal/problem"
)

// MaxBodyBytes is the largest request body any route accepts.
const MaxBodyBytes = 64 << 10

// DecodeJSON reads the body into dst, strictly: unknown fields, wrong types, trailing data and
// oversized bodies are client errors that name what is wrong.
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") &&
		!strings.HasPrefix(strings.ToLower(ct), "application/merge-patch+json") {
		return problem.Invalid("Content-Type", "must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return problem.BadRequest("could not read the request body")
	}
	if len(body) > MaxBodyBytes {
		return problem.TooLarge(fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes))
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return problem.Invalid("body", "a JSON object is required")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return problem.Invalid("body", "unexpected data after the JSON object")
	}
	return nil
}

func jsonProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return problem.Invalid(field, "must be of type "+jsonTypeName(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return problem.Invalid("body", fmt.Sprintf("invalid JSON at offset %d", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.Invalid("body", "truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Invalid(field, "unknown field")
	}
	return problem.Invalid("body", "invalid JSON")
}

func jsonTypeName(kind string) string {
	switch kind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float64", "float32":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

// WriteJSON writes v with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p *problem.Error) {
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// QueryInt parses an optional integer query parameter within [lo, hi]; out of range is a 400,
// never silently replaced.
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, problem.Invalid(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// WritePage answers a list route: 200 with {items, nextCursor} ("" on the last page).
func WritePage(w http.ResponseWriter, items any, next string) {
	WriteJSON(w, http.StatusOK, map[string]any{"items": items, "nextCursor": next})
}
