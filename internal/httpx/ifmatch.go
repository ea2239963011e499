package httpx

import (
	"net/http"
	"strconv"
	"strings"

	"streamspace/internal/problem"
)

// IfMatch parses If-Match as every update reads it: the version from an ETag, quoted or not,
// with W/ tolerated. nil means no precondition (absent, or "*": any version). Anything else is
// a 400, so a typo never turns into an unconditional write.
func IfMatch(r *http.Request) (*int, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(v, "W/"), `"`))
	if err != nil || n < 1 {
		return nil, problem.Invalid("If-Match", "must be a version, as in the ETag header, or *")
	}
	return &n, nil
}

// SetETag announces the version of the resource a response carries, quoted as RFC 9110 wants.
func SetETag(w http.ResponseWriter, version int) {
	w.Header().Set("ETag", `"`+strconv.Itoa(version)+`"`)
}
