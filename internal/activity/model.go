// Package activity is the audit trail of sessions: records written by the platform itself from
// the table stream (the auditor) and by clients, their listings, timeline and statistics.
package activity

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/problem"
)

// Categories.
const (
	Lifecycle     = "lifecycle"
	Connection    = "connection"
	State         = "state"
	Configuration = "configuration"
	Access        = "access"
	Error         = "error"
)

// Types maps every event type to its category.
var Types = map[string]string{
	"session.created": Lifecycle, "session.started": Lifecycle, "session.stopped": Lifecycle,
	"session.hibernated": State, "session.woken": State, "session.terminated": Lifecycle,
	"session.deleted": Lifecycle, "session.transferred": Access,
	"connection.opened": Connection, "connection.closed": Connection, "user.heartbeat": Connection,
	"state.changed": State, "resources.updated": Configuration, "config.updated": Configuration,
	"tags.updated": Configuration, "access.granted": Access, "access.denied": Access,
	"share.created": Access, "share.revoked": Access, "invitation.created": Access,
	"invitation.accepted": Access, "error.occurred": Error,
}

// TypeNames lists the event types, sorted (for messages).
func TypeNames() []string {
	out := make([]string, 0, len(Types))
	for t := range Types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Activity is one entry of a session's audit trail.
type Activity struct {
	ID            string         `json:"id" dynamodbav:"id"`
	SessionID     string         `json:"sessionId" dynamodbav:"sessionId"`
	EventType     string         `json:"eventType" dynamodbav:"eventType"`
	EventCategory string         `json:"eventCategory" dynamodbav:"eventCategory"`
	ActorID       string         `json:"actorId,omitempty" dynamodbav:"actorId,omitempty"`
	Description   string         `json:"description,omitempty" dynamodbav:"description,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty" dynamodbav:"metadata,omitempty"`
	IP            string         `json:"ip,omitempty" dynamodbav:"ip,omitempty"`
	UserAgent     string         `json:"userAgent,omitempty" dynamodbav:"userAgent,omitempty"`
	Timestamp     time.Time      `json:"timestamp" dynamodbav:"timestamp"`
	// Source is "platform" (derived from a committed change) or "client" (posted).
	Source string `json:"source" dynamodbav:"source"`
	// Order places the entry within its second: "S<stream sequence>#<n>" for platform entries
	// (commit order, stable across redeliveries) and "C<nanoseconds>" for client ones.
	Order string `json:"-" dynamodbav:"order"`
}

// Validate checks a client-posted activity's type and category; the error names the field.
func Validate(eventType, category string) (string, error) {
	want, ok := Types[eventType]
	if !ok {
		return "", problem.Invalid("eventType", fmt.Sprintf("unknown event type; known: %v", TypeNames()))
	}
	switch {
	case category == "":
		return want, nil
	case category != want:
		return "", problem.Invalid("eventCategory", fmt.Sprintf("%s belongs to the %s category", eventType, want))
	}
	return category, nil
}

// For is the entry as a reader with grant g may see it (SEC-12): where people were (IP address,
// User-Agent) only for those who manage the session, and who the session is shared with (the
// access entries' details) likewise, since GET …/shares is theirs alone.
func (a Activity) For(g access.Grant) Activity {
	if g.Manage {
		return a
	}
	a.IP, a.UserAgent = "", ""
	if a.EventCategory == Access {
		a.Metadata, a.Description = nil, strings.ReplaceAll(a.EventType, ".", " ")
	}
	return a
}

// storable checks what JSON accepts but DynamoDB refuses (SEC-11): numbers beyond its range
// (magnitudes from 1e-130 to 9.99e125, or 0), nesting past its 32 levels, empty map keys.
func storable(v any, depth int) error {
	if depth > 31 {
		return fmt.Errorf("is nested more than 31 levels deep")
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "" {
				return fmt.Errorf("has an empty key")
			}
			if err := storable(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := storable(e, depth+1); err != nil {
				return err
			}
		}
	case float64:
		if a := math.Abs(x); math.IsInf(x, 0) || math.IsNaN(x) || a > 9.99e125 || (a != 0 && a < 1e-130) {
			return fmt.Errorf("has the number %g, outside what can be stored (magnitudes 1e-130 to 9.99e125)", x)
		}
	}
	return nil
}
