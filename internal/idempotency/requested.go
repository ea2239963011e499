package idempotency

import (
	"net/http"
	"time"
)

// Requested is the Idempotency-Key a request carried, not yet checked. The HTTP edge reads it;
// the service claims it (Claim) once it has validated and normalised the input the claim binds,
// so a bad body is reported before a bad key and a replay is matched on the input as the
// service understood it.
type Requested struct {
	UserID, Key, Method, Path string
	Present                   bool
}

// RequestedBy is the key r carries for userID (Present false without the header).
func RequestedBy(r *http.Request, userID string) Requested {
	_, present := r.Header[http.CanonicalHeaderKey(KeyHeader)]
	return Requested{UserID: userID, Key: r.Header.Get(KeyHeader), Method: r.Method, Path: r.URL.Path, Present: present}
}

// Claim is the claim of the key for body, or nil when the request had no key; FromRequest is
// RequestedBy followed by Claim.
func (q Requested) Claim(body any, now time.Time) (*Claim, error) {
	if !q.Present {
		return nil, nil
	}
	return New(q.UserID, q.Key, q.Method, q.Path, body, now)
}
