package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/apikeys"
	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
	"streamspace/internal/tickets"
	"streamspace/internal/users"
)

// Authority answers the gateway's questions with the control plane's own rules: who the
// ticket's holder is now, whether they may open the stream, and whether they still may.
type Authority struct {
	Sessions *sessions.Service
	Users    *users.Store
	Keys     *apikeys.Store
	Access   *access.Decider
	// BootstrapAdmins are users who are admins by configuration, as the authorizer knows them.
	BootstrapAdmins []string
	Now             func() time.Time
}

// Principal is the gateway's own identity when it writes on no user's behalf (closing a stream
// whose user lost access must still succeed).
var Principal = auth.Caller{UserID: "system:gateway", Role: auth.RoleAdmin}

func (a *Authority) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Refusal is why a stream is refused or closed, with the WebSocket close code the viewer sees.
type Refusal struct {
	Code   int
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s", r.Code, r.Reason) }

// Close codes (private range 4000-4999), documented in docs/gateway.md.
const (
	CodeProtocol     = 4400 // the viewer broke the protocol
	CodeTicket       = 4401 // no ticket, a malformed, forged or unknown-key ticket
	CodeExpired      = 4402 // the ticket's 60 s passed
	CodeAccess       = 4403 // access ended, was reduced, or never was
	CodeNotRunning   = 4404 // the session is not running (any more)
	CodeUsed         = 4409 // the ticket was used already, or its connection was removed
	CodeUnverifiable = 4503 // access could not be checked for too long
	CodeInternal     = 4500
	CodeUnreachable  = 4502 // the desktop did not answer
	CodeShutdown     = 4001 // the gateway is stopping; reconnect
)

func refuse(code int, reason string) *Refusal { return &Refusal{Code: code, Reason: reason} }

// Caller rebuilds the ticket holder as the authorizer would now: the stored role (which an
// admin may have removed since) with the role from outside the store the ticket carried, and
// for a key, the key must still be valid.
func (a *Authority) Caller(ctx context.Context, t tickets.Claims) (auth.Caller, *Refusal, error) {
	u, err := a.Users.Get(ctx, t.UserID)
	if errors.Is(err, users.ErrNotFound) {
		return auth.Caller{}, refuse(CodeAccess, "the user no longer exists"), nil
	}
	if err != nil {
		return auth.Caller{}, nil, err
	}
	external := t.IdPRole
	for _, id := range a.BootstrapAdmins {
		if id == u.ID {
			external = auth.RoleAdmin
		}
	}
	c := auth.Caller{UserID: u.ID, Email: u.Email, Name: u.Name, Role: auth.HighestRole(auth.RoleUser, u.Role, external),
		ExternalRole: external, KeyID: t.KeyID}
	if t.KeyID != "" {
		ok, err := a.Keys.Usable(ctx, u.ID, t.KeyID, a.now())
		if err != nil {
			return auth.Caller{}, nil, err
		}
		if !ok {
			return auth.Caller{}, refuse(CodeAccess, "the API key the stream was opened with was revoked or expired"), nil
		}
	}
	return c, nil, nil
}

// Open claims the ticket's connection for its holder, once, and returns the session with what
// the gateway needs to reach the desktop.
func (a *Authority) Open(ctx context.Context, t tickets.Claims, level access.Level) (sessions.Session, *Refusal, error) {
	c, ref, err := a.Caller(ctx, t)
	if ref != nil || err != nil {
		return sessions.Session{}, ref, err
	}
	se, _, err := a.Sessions.Open(ctx, c, t.SessionID, t.ConnectionID, level)
	if p := problem.As(err); p != nil {
		switch {
		case p.Status == 404 && p.Detail == "connection not found":
			return se, refuse(CodeUsed, "this link was used already; open the session again for a new one"), nil
		case p.Status == 404 || p.Status == 403:
			return se, refuse(CodeAccess, "you no longer have access to this session at this level"), nil
		case p.Status == 409:
			return se, refuse(CodeNotRunning, p.Detail), nil
		}
		return se, refuse(CodeInternal, p.Detail), nil
	}
	return se, nil, err
}

// Check is one re-check of a session's streams: it reads the session, its open connections and
// each holder's access, and returns why each stream must close (absent = it stays).
func (a *Authority) Check(ctx context.Context, sessionID string, streams []*Stream) (map[*Stream]*Refusal, error) {
	out, _, err := a.check(ctx, sessionID, streams)
	return out, err
}

// check is Check that also answers the session's idle timeout (seconds; 0 when unknown), which
// sets how often viewers' input marks the session active.
func (a *Authority) check(ctx context.Context, sessionID string, streams []*Stream) (map[*Stream]*Refusal, int, error) {
	out, idle := map[*Stream]*Refusal{}, 0
	verdicts, err := a.decide(ctx, sessionID, streams, &idle)
	if verdicts != nil {
		out = verdicts
	}
	return out, idle, err
}

func (a *Authority) decide(ctx context.Context, sessionID string, streams []*Stream, idle *int) (map[*Stream]*Refusal, error) {
	out := map[*Stream]*Refusal{}
	closeAll := func(r *Refusal) (map[*Stream]*Refusal, error) {
		for _, s := range streams {
			out[s] = r
		}
		return out, nil
	}
	se, err := a.Sessions.Store.Get(ctx, sessionID)
	if errors.Is(err, sessions.ErrNotFound) {
		return closeAll(refuse(CodeNotRunning, "the session no longer exists"))
	}
	if err != nil {
		return nil, err
	}
	if se.State != sessions.StateRunning {
		return closeAll(refuse(CodeNotRunning, "the session is "+se.State))
	}
	*idle = se.IdleTimeout
	conns, err := a.Sessions.Store.Connections(ctx, sessionID, a.now())
	if err != nil {
		return nil, err
	}
	open := map[string]bool{}
	for _, c := range conns {
		open[c.ConnectionID] = true
	}
	subject := access.Subject{SessionID: se.ID, OwnerID: se.OwnerID, TeamID: se.TeamID}
	levels := map[string]access.Level{} // per holder (user, key, role from outside): one decision each
	for _, s := range streams {
		switch {
		case se.Runtime == nil || se.Runtime.Upstream != s.upstream:
			out[s] = refuse(CodeNotRunning, "the desktop was restarted")
			continue
		case !open[s.ticket.ConnectionID]:
			out[s] = refuse(CodeUsed, "the connection was ended")
			continue
		}
		holder := s.ticket.UserID + "\x00" + s.ticket.KeyID + "\x00" + s.ticket.IdPRole
		l, ok := levels[holder]
		if !ok {
			c, ref, err := a.Caller(ctx, s.ticket)
			if err != nil {
				return nil, err
			}
			if ref == nil {
				g, err := a.Access.Decide(ctx, c, subject)
				if err != nil {
					return nil, err
				}
				l = g.Level
			}
			levels[holder] = l
		}
		switch {
		case l < access.View:
			out[s] = refuse(CodeAccess, "your access to this session ended")
		case l < s.level:
			out[s] = refuse(CodeAccess, "your access to this session changed to "+l.String()+"; open it again")
		}
	}
	return out, nil
}

// Ended explains why a desktop closed its side: usually the session is stopping (the runtime
// stops the desktop before it records the new state, so the desired state tells).
func (a *Authority) Ended(ctx context.Context, sessionID string) *Refusal {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	se, err := a.Sessions.Store.Get(ctx, sessionID)
	switch {
	case err != nil:
		return refuse(CodeUnreachable, "the desktop closed the connection")
	case se.DesiredState != sessions.StateRunning:
		return refuse(CodeNotRunning, "the session was "+map[string]string{sessions.StateHibernated: "hibernated",
			sessions.StateTerminated: "terminated"}[se.DesiredState])
	case se.State != sessions.StateRunning:
		return refuse(CodeNotRunning, "the session is "+se.State)
	}
	return refuse(CodeUnreachable, "the desktop closed the connection")
}
