// Package tickets is how a viewer's right to open one desktop stream travels from the control
// plane (POST /sessions/{id}/connect signs) to the streaming gateway (verifies): a short-lived,
// single-use credential bound to one session, user, level and connection. docs/gateway.md has
// the format and the key handling.
//
// Format: "v1.<key id>.<payload>.<mac>", payload the base64url (no padding) JSON of Claims, mac
// the base64url HMAC-SHA256 of "v1.<key id>.<payload>" under the named key. Every character is
// a token character (RFC 9110), so a ticket can travel in Sec-WebSocket-Protocol, never in a URL a
// server logs. Single use is not the signature's job: the gateway claims the connection the
// ticket names with a conditional write, which succeeds once.
package tickets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Lifetime is how long a ticket may be used to open a stream.
const Lifetime = 60 * time.Second

// Claims are what a ticket says.
type Claims struct {
	SessionID    string `json:"sid"`
	UserID       string `json:"uid"`
	Level        string `json:"lvl"` // view, collaborate or control
	ConnectionID string `json:"cid"`
	// IdPRole is the platform role the caller's identity provider claimed at issue: the gateway
	// re-checks access with the stored role, which only an admin changes, plus this one.
	IdPRole string `json:"rol,omitempty"`
	// KeyID is set when the ticket was issued to an API key: the key must stay valid.
	KeyID     string `json:"key,omitempty"`
	ExpiresAt int64  `json:"exp"`
}

// Expires is when the ticket stops opening streams.
func (c Claims) Expires() time.Time { return time.Unix(c.ExpiresAt, 0) }

// Errors of Verify, each a reason a viewer may be told.
var (
	ErrMalformed  = errors.New("the ticket is malformed")
	ErrUnknownKey = errors.New("the ticket was signed with a key this gateway does not know")
	ErrSignature  = errors.New("the ticket's signature does not match")
	ErrExpired    = errors.New("the ticket has expired")
)

const version = "v1"

// Sign makes a ticket with the keyring's signing key (loading or reloading the keys when due).
func (k *Keyring) Sign(ctx context.Context, c Claims) (string, error) {
	if err := k.Refresh(ctx); err != nil && !k.hasKeys() {
		return "", err
	}
	id, key, ok := k.signer()
	if !ok {
		return "", errors.New("tickets: the keyring has no signing key")
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	head := version + "." + id + "." + base64.RawURLEncoding.EncodeToString(body)
	return head + "." + base64.RawURLEncoding.EncodeToString(mac(key, head)), nil
}

// Verify checks a ticket's signature and lifetime and returns what it says.
func (k *Keyring) Verify(ticket string, now time.Time) (Claims, error) {
	var c Claims
	if len(ticket) > 2048 {
		return c, ErrMalformed
	}
	parts := strings.Split(ticket, ".")
	if len(parts) != 4 || parts[0] != version {
		return c, ErrMalformed
	}
	key, ok := k.key(parts[1])
	if !ok {
		return c, ErrUnknownKey
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return c, ErrMalformed
	}
	if !hmac.Equal(sig, mac(key, strings.Join(parts[:3], "."))) {
		return c, ErrSignature
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || json.Unmarshal(body, &c) != nil || c.SessionID == "" || c.UserID == "" || c.ConnectionID == "" {
		return Claims{}, ErrMalformed
	}
	if !now.Before(c.Expires()) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

func mac(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// Protocol is the WebSocket subprotocol that carries a ticket: browsers can set
// Sec-WebSocket-Protocol but no other header, and a header stays out of URLs and access logs.
const Protocol = "streamspace.ticket."

// FromProtocols finds the ticket among the offered subprotocols.
func FromProtocols(offered []string) string {
	for _, p := range offered {
		if t, ok := strings.CutPrefix(strings.TrimSpace(p), Protocol); ok {
			return t
		}
	}
	return ""
}

// ViewerURL is a session's page on the gateway (no secret in it).
func ViewerURL(gatewayBase, sessionID string) string {
	return strings.TrimRight(gatewayBase, "/") + "/s/" + sessionID
}

// ConnectURL is the viewer page with a ticket in the fragment, which browsers never send to a
// server; the page moves it into the WebSocket handshake and off the address bar.
func ConnectURL(gatewayBase, sessionID, ticket string) string {
	return ViewerURL(gatewayBase, sessionID) + "#ticket=" + ticket
}

// ParseUpstream splits a runtime upstream ("unix:/path" or "tcp:host:port") into a network and
// address for net.Dial.
func ParseUpstream(u string) (network, address string, err error) {
	network, address, ok := strings.Cut(u, ":")
	if !ok || address == "" || (network != "unix" && network != "tcp") {
		return "", "", fmt.Errorf("not a desktop address: %q", u)
	}
	return network, address, nil
}
