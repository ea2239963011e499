package change

import (
	"slices"

	"streamspace/internal/sessions"
)

// Field is one thing of a session that a change can touch.
type Field uint32

// The session's fields the consumers look at.
const (
	State Field = 1 << iota
	DesiredState
	Owner
	TransferOffer // a new offer (another recipient, or made again)
	Deleted       // soft-deleted (deletedAt set)
	Tags
	Resources
	IdleTimeout
	MaxDuration
	URL
	Idle
	LastActivity
	Connections // the active connection count
	Runtime     // the runtime's bookkeeping (action, handle, secrets)
	Usage
)

// Fields is a set of Field.
type Fields uint32

// Has reports whether f is in the set.
func (fs Fields) Has(f Field) bool { return fs&Fields(f) != 0 }

// Any reports whether any of fs's fields is in the set.
func (fs Fields) Any(f ...Field) bool {
	for _, x := range f {
		if fs.Has(x) {
			return true
		}
	}
	return false
}

// Session is a session item's change. Old is zero for an insert, New for a removal; Changed
// is what a modification touched (empty for inserts and removals).
type Session struct {
	Old, New sessions.Session
	Changed  Fields
}

// Current is the session as the change left it (as it was, for a removal).
func (s *Session) Current(d Diff) sessions.Session {
	if d.Removed() {
		return s.Old
	}
	return s.New
}

// Settings are the changed settings callers set, by their API names: the desired state (unless
// the session ended with it), the idle timeout and the maximum duration. Never nil.
func (s *Session) Settings() map[string]any {
	out := map[string]any{}
	if s.Changed.Has(DesiredState) && s.New.State != sessions.StateTerminated {
		out["desiredState"] = s.New.DesiredState
	}
	if s.Changed.Has(IdleTimeout) {
		out["idleTimeout"] = s.New.IdleTimeout
	}
	if s.Changed.Has(MaxDuration) {
		out["maxSessionDuration"] = s.New.MaxSessionDuration
	}
	return out
}

func sessionOf(op string, oldImg, newImg image) (*Session, error) {
	old, cur, err := decode(oldImg, newImg, via(sessions.UnmarshalSession))
	if err != nil {
		return nil, err
	}
	s := &Session{Old: old, New: cur}
	if op != Modify {
		return s, nil
	}
	set := func(f Field, changed bool) {
		if changed {
			s.Changed |= Fields(f)
		}
	}
	set(State, old.State != cur.State)
	set(DesiredState, old.DesiredState != cur.DesiredState)
	set(Owner, old.OwnerID != cur.OwnerID)
	o := cur.TransferOffer
	set(TransferOffer, o != nil && (old.TransferOffer == nil || old.TransferOffer.ToUserID != o.ToUserID ||
		!old.TransferOffer.CreatedAt.Equal(o.CreatedAt)))
	set(Deleted, old.DeletedAt == nil && cur.DeletedAt != nil)
	set(Tags, !slices.Equal(old.Tags, cur.Tags))
	set(Resources, old.Resources != cur.Resources)
	set(IdleTimeout, old.IdleTimeout != cur.IdleTimeout)
	set(MaxDuration, old.MaxSessionDuration != cur.MaxSessionDuration)
	set(URL, old.URL != cur.URL)
	set(Idle, old.Idle != cur.Idle)
	set(LastActivity, !old.LastActivity.Equal(cur.LastActivity))
	set(Connections, old.ActiveConnections != cur.ActiveConnections)
	set(Runtime, !sameRuntime(old.Runtime, cur.Runtime))
	set(Usage, !samePtr(old.Usage, cur.Usage))
	return s, nil
}

func sameRuntime(a, b *sessions.Runtime) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Action == b.Action && a.Handle == b.Handle && a.Secret == b.Secret && a.Upstream == b.Upstream && a.At.Equal(b.At)
}

func samePtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
