package idempotency

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	cases := []struct {
		key string
		ok  bool
	}{
		{"retry-1", true},
		{strings.Repeat("k", MaxKeyLength), true},
		{"", false},
		{strings.Repeat("k", MaxKeyLength+1), false},
		{"has space", false},
		{"has#hash", false},
		{"tab\tkey", false},
		{"ünicode", false},
		{"!~", true},
	}
	for _, c := range cases {
		if err := ValidKey(c.key); (err == nil) != c.ok {
			t.Errorf("ValidKey(%q) = %v, want ok=%v", c.key, err, c.ok)
		}
	}
}

// The hash binds a key to the request's meaning: the same body however it is spelled, but not
// another body, route or resource.
func TestHashBindsMethodPathAndBody(t *testing.T) {
	decode := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := Hash("POST", "/api/v1/teams", decode(`{"name":"a","description":"d"}`))
	if got := Hash("POST", "/api/v1/teams", decode("{ \"description\": \"d\",\n \"name\": \"a\" }")); got != base {
		t.Error("key order or whitespace changed the hash")
	}
	for name, other := range map[string]string{
		"body":   Hash("POST", "/api/v1/teams", decode(`{"name":"b","description":"d"}`)),
		"path":   Hash("POST", "/api/v1/api-keys", decode(`{"name":"a","description":"d"}`)),
		"method": Hash("PUT", "/api/v1/teams", decode(`{"name":"a","description":"d"}`)),
	} {
		if other == base {
			t.Errorf("another %s gave the same hash", name)
		}
	}
}
