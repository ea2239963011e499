// Viewer connections: connect, disconnect, heartbeats, collaborators.

package sessions

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
)

// ConnectResult is the answer to POST /sessions/{id}/connect.
type ConnectResult struct {
	ConnectionID    string `json:"connectionId"`
	URL             string `json:"url"`
	State           string `json:"state"`
	Ready           bool   `json:"ready"`
	PermissionLevel string `json:"permissionLevel"`
}

// Connect records a viewer connection; view access watches, collaborate and above interact.
func (sv *Service) Connect(ctx context.Context, c auth.Caller, id string) (ConnectResult, error) {
	var res ConnectResult
	_, err := sv.apply(ctx, c, id, change{required: access.View, what: "connecting",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if !old.Live() {
				return nil, nil, problem.Conflict("the session is " + old.State)
			}
			now := sv.now()
			conn := Connection{ConnectionID: ids.New("conn"), SessionID: old.ID, UserID: c.UserID, PermissionLevel: g.Level.String(),
				ConnectedAt: now.Format(time.RFC3339Nano), OwnerID: old.OwnerID, TeamID: old.TeamID,
				ExpiresAt: now.Add(connectionTTL).Unix()}
			if a := auth.ActorFrom(ctx); a != nil {
				conn.IP, conn.UserAgent = a.IP, a.UserAgent
			}
			put, err := sv.Store.putConnection(conn)
			if err != nil {
				return nil, nil, err
			}
			next.ActiveConnections++
			next.LastActivity, next.Idle = now, false
			res = ConnectResult{ConnectionID: conn.ConnectionID, URL: streamURL(old, g.Level), State: old.State,
				Ready: old.State == StateRunning && old.URL != "", PermissionLevel: conn.PermissionLevel}
			return nil, []types.TransactWriteItem{put}, nil
		}})
	return res, err
}

// streamURL is the session's URL for one viewer: watch-only connections get the client's
// view-only switch and, when the runtime set secrets, the password the VNC server itself limits
// to watching; the others get the password that interacts. Passwords go in the fragment, which
// browsers never send to a server.
func streamURL(se Session, l access.Level) string {
	u := se.URL
	if u == "" {
		return u
	}
	if l < access.Collaborate {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "view_only=true"
	}
	if rt := se.Runtime; rt != nil && rt.ControlSecret != "" {
		secret := rt.ControlSecret
		if l < access.Collaborate {
			secret = rt.ViewSecret
		}
		u += "#password=" + url.QueryEscape(secret)
	}
	return u
}

// Disconnect removes one of the caller's connections.
func (sv *Service) Disconnect(ctx context.Context, c auth.Caller, id, connID string) error {
	if !ids.Valid("conn", connID) {
		return problem.Invalid("connectionId", "is not a connection id")
	}
	_, err := sv.apply(ctx, c, id, change{required: access.View, what: "disconnecting",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if next.ActiveConnections > 0 {
				next.ActiveConnections--
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
	pk := "SESSION#" + sessionID
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
		if cn.UserID == userID && len(mine) < 90 { // one transaction holds at most 100 writes
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
