// Package ids makes the product's identifiers: a type prefix and a ULID, so ids sort by
// creation time and say what they name.
package ids

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns prefix + "_" + a lower-case ULID, e.g. "sess_01jd…".
func New(prefix string) string {
	mu.Lock()
	id := ulid.MustNew(ulid.Timestamp(time.Now()), entropy)
	mu.Unlock()
	return prefix + "_" + strings.ToLower(id.String())
}

// Valid reports whether s looks like an id made by New with this prefix; handlers use it to
// answer 404 without a database call for malformed ids.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	// New writes lower case only: one spelling per id, so an upper-cased copy is not another
	// name for the same item (the store would not find it either).
	if !ok || len(rest) != ulid.EncodedSize || rest != strings.ToLower(rest) {
		return false
	}
	_, err := ulid.ParseStrict(strings.ToUpper(rest))
	return err == nil
}
