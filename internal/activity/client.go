package activity

import (
	"net/http"

	"streamspace/internal/auth"
)

// clientInfo is the caller's address and user agent as the router recorded them.
func clientInfo(r *http.Request) (string, string) {
	if a := auth.ActorFrom(r.Context()); a != nil {
		return a.IP, a.UserAgent
	}
	return "", ""
}
