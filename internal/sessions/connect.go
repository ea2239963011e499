// Viewer connections: connect, disconnect, heartbeats, collaborators.

package sessions

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/tickets"
)

// ConnectResult is the answer to POST /sessions/{id}/connect.
type ConnectResult struct {
	ConnectionID string `json:"connectionId"`
	// URL opens the session's viewer on the streaming gateway with a single-use ticket in its
	// fragment; it holds no desktop password.
	URL             string `json:"url"`
	State           string `json:"state"`
	Ready           bool   `json:"ready"`
	PermissionLevel string `json:"permissionLevel"`
	// ExpiresAt is when the ticket stops opening the stream (RFC 3339).
	ExpiresAt string `json:"expiresAt"`
}

// Connection states: a connect issues a ticket for a connection; the gateway opens it when the
// viewer presents the ticket, and removes it when the stream ends.
const (
	ConnIssued = "issued"
	ConnOpen   = "open"
)

// Connect issues a ticket to open the session's stream at the caller's level. Nothing about the
// session changes until the gateway opens the connection: a ticket never used keeps no session
// alive and counts as no viewer.
func (sv *Service) Connect(ctx context.Context, c auth.Caller, id string) (ConnectResult, error) {
	if sv.Tickets == nil || sv.GatewayURL == "" {
		return ConnectResult{}, problem.Unavailable("desktop streaming is not configured on this installation")
	}
	se, g, err := sv.load(ctx, c, id)
	if err != nil {
		return ConnectResult{}, err
	}
	if !se.Live() {
		return ConnectResult{}, problem.Conflict("the session is " + se.State)
	}
	now := sv.now()
	exp := now.Add(tickets.Lifetime)
	conn := Connection{ConnectionID: ids.New("conn"), SessionID: se.ID, UserID: c.UserID, PermissionLevel: g.Level.String(),
		ConnectedAt: now.Format(time.RFC3339Nano), OwnerID: se.OwnerID, TeamID: se.TeamID, State: ConnIssued,
		ExpiresAt: exp.Add(time.Minute).Unix()}
	if a := auth.ActorFrom(ctx); a != nil {
		conn.IP, conn.UserAgent = a.IP, a.UserAgent
	}
	if err := sv.Store.issueConnection(ctx, conn); err != nil {
		return ConnectResult{}, err
	}
	ticket, err := sv.Tickets.Sign(ctx, tickets.Claims{SessionID: se.ID, UserID: c.UserID, Level: conn.PermissionLevel,
		ConnectionID: conn.ConnectionID, IdPRole: c.ExternalRole, KeyID: c.KeyID, ExpiresAt: exp.Unix()})
	if err != nil {
		return ConnectResult{}, err
	}
	return ConnectResult{ConnectionID: conn.ConnectionID, URL: tickets.ConnectURL(sv.GatewayURL, se.ID, ticket), State: se.State,
		Ready: se.State == StateRunning, PermissionLevel: conn.PermissionLevel, ExpiresAt: exp.Format(time.RFC3339)}, nil
}

// Open is the gateway's side of a ticket: the caller (the ticket's user, re-checked now) opens
// the connection the ticket names, once. The session must be running and the caller's access
// at least the ticket's level. Only interacting viewers count as activity.
func (sv *Service) Open(ctx context.Context, c auth.Caller, id, connID string, level access.Level) (Session, access.Grant, error) {
	var grant access.Grant
	se, err := sv.apply(ctx, c, id, change{required: level, what: "opening the stream",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.State != StateRunning || old.Runtime == nil || old.Runtime.Upstream == "" {
				return nil, nil, problem.Conflict("the session is " + old.State + ", not running")
			}
			grant = g
			now := sv.now()
			next.ActiveConnections++
			if level >= access.Collaborate {
				next.LastActivity, next.Idle = now, false
			}
			return nil, []types.TransactWriteItem{sv.Store.openConnection(old.ID, connID, c.UserID, now)}, nil
		}})
	return se, grant, err
}

// CloseInfo is what the gateway knows of a stream when it ends.
type CloseInfo struct {
	Reason   string
	BytesIn  int64 // viewer → desktop
	BytesOut int64 // desktop → viewer
	Duration time.Duration
}

// Close ends an open connection for the gateway (its own principal): the closing facts go on the
// item first, so its removal from the stream carries them into the activity log; then the item
// goes and the session's count drops, once, whoever removes the connection first.
func (sv *Service) Close(ctx context.Context, principal auth.Caller, id, connID string, info CloseInfo) error {
	if err := sv.Store.markClosing(ctx, id, connID, info); err != nil {
		return err
	}
	_, err := sv.apply(ctx, principal, id, change{required: access.View, what: "closing the stream",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			next.ActiveConnections = max(0, old.ActiveConnections-1)
			return nil, []types.TransactWriteItem{sv.Store.deleteConnection(old.ID, connID, "")}, nil
		}})
	if p := problem.As(err); errors.Is(err, ErrNotFound) || p != nil && p.Status == 404 {
		return nil // removed meanwhile (a disconnect, a collaborator's removal)
	}
	return err
}

// Disconnect removes one of the caller's connections; the gateway then closes its stream.
func (sv *Service) Disconnect(ctx context.Context, c auth.Caller, id, connID string) error {
	if !ids.Valid("conn", connID) {
		return problem.Invalid("connectionId", "is not a connection id")
	}
	conn, err := sv.Store.connection(ctx, id, connID)
	if err != nil {
		return err
	}
	_, err = sv.apply(ctx, c, id, change{required: access.View, what: "disconnecting",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if conn == nil || conn.UserID != c.UserID {
				return nil, nil, problem.NotFound("connection")
			}
			if conn.Open() {
				next.ActiveConnections = max(0, old.ActiveConnections-1)
			}
			return nil, []types.TransactWriteItem{sv.Store.deleteConnection(old.ID, connID, c.UserID)}, nil
		}})
	return err
}

// Heartbeat records activity from a connected, interacting user.
func (sv *Service) Heartbeat(ctx context.Context, c auth.Caller, id, connID string) (Session, error) {
	if connID != "" && !ids.Valid("conn", connID) {
		return Session{}, problem.Invalid("connectionId", "is not a connection id")
	}
	return sv.apply(ctx, c, id, change{required: access.Collaborate, what: "sending heartbeats",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if !old.Live() {
				return nil, nil, problem.Conflict("the session is " + old.State)
			}
			now := sv.now()
			next.LastActivity, next.Idle = now, false
			if connID == "" {
				return nil, nil, nil
			}
			return nil, []types.TransactWriteItem{sv.Store.touchConnection(old.ID, connID, c.UserID, now.Add(connectionTTL).Unix())}, nil
		}})
}

// Collaborator is a user with live connections to a session.
type Collaborator struct {
	UserID          string   `json:"userId"`
	PermissionLevel string   `json:"permissionLevel"`
	ConnectionIDs   []string `json:"connectionIds"`
	Since           string   `json:"since"`
}

// Collaborators is one page of a session's live connections grouped by user, by user id. The
// grouping is computed in memory, so there is no DynamoDB key to resume from: the page is cut
// from the sorted groups, and the cursor (the ddb cursor format, bound to the session) names the
// last user id given. A session has few live connections (each is a person watching it), so
// reading them all per page is cheap; a user who connects meanwhile is listed if their id sorts
// after the cursor.
func (sv *Service) Collaborators(ctx context.Context, sessionID string, limit int, cursor string) ([]Collaborator, string, error) {
	pk := ddb.SessionPK(sessionID)
	after := ""
	if start, err := ddb.DecodeCursor(cursor, map[string]string{ddb.PK: pk}, ddb.PK, "userId"); err != nil {
		return nil, "", err
	} else if start != nil {
		after = start["userId"].(*types.AttributeValueMemberS).Value
	}
	conns, err := sv.Store.Connections(ctx, sessionID, sv.now())
	if err != nil {
		return nil, "", err
	}
	byUser := map[string]*Collaborator{}
	for _, c := range conns {
		if c.UserID <= after {
			continue
		}
		col, ok := byUser[c.UserID]
		if !ok {
			col = &Collaborator{UserID: c.UserID, PermissionLevel: c.PermissionLevel, Since: c.ConnectedAt}
			byUser[c.UserID] = col
		}
		col.ConnectionIDs = append(col.ConnectionIDs, c.ConnectionID)
		if c.ConnectedAt < col.Since {
			col.Since = c.ConnectedAt
		}
	}
	order := slices.Sorted(maps.Keys(byUser))
	next := ""
	if len(order) > limit {
		order = order[:limit]
		next = ddb.EncodeCursor(map[string]types.AttributeValue{ddb.PK: &types.AttributeValueMemberS{Value: pk},
			"userId": &types.AttributeValueMemberS{Value: order[limit-1]}})
	}
	out := make([]Collaborator, 0, len(order))
	for _, u := range order {
		out = append(out, *byUser[u])
	}
	return out, next, nil
}

// DisconnectUser ends every live connection one user has to a session (owner's or manager's
// action, checked by the caller); it returns how many were ended.
func (sv *Service) DisconnectUser(ctx context.Context, c auth.Caller, id, userID string) (int, error) {
	conns, err := sv.Store.Connections(ctx, id, sv.now())
	if err != nil {
		return 0, err
	}
	var mine []Connection
	for _, cn := range conns {
		if cn.UserID == userID && cn.Open() && len(mine) < 90 { // one transaction holds at most 100 writes
			mine = append(mine, cn)
		}
	}
	if len(mine) == 0 {
		return 0, nil
	}
	_, err = sv.apply(ctx, c, id, change{required: access.View, manage: true, what: "removing a collaborator",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			var del []types.TransactWriteItem
			for _, cn := range mine {
				del = append(del, sv.Store.deleteConnection(old.ID, cn.ConnectionID, userID))
			}
			next.ActiveConnections = max(0, old.ActiveConnections-len(mine))
			return nil, del, nil
		}})
	return len(mine), err
}
