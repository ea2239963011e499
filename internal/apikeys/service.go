package apikeys

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"streamspace/internal/auth"
	"streamspace/internal/clock"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
	"streamspace/internal/routes"
)

// Service holds the API-keys rules.
type Service struct {
	Store *Store
	Usage *Usage
	Log   *slog.Logger
	Now   func() time.Time
}

func (sv *Service) now() time.Time { return clock.UTC(sv.Now) }

// CreateInput is the body of POST /api-keys.
type CreateInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	RateLimit   *int     `json:"rateLimit,omitempty"`
	ExpiresIn   string   `json:"expiresIn,omitempty"`
}

// Created is the one answer that carries the secret.
type Created struct {
	Key
	// Never empty on a create; omitted (by the replay, which answers Key) so the document can
	// say a replay has no secret.
	Secret string `json:"key,omitempty"`
}

// Create makes a key for the caller. A record back is a replay of an earlier create with the
// same Idempotency-Key: the secret was shown once then and is not stored anywhere, so the replay
// answers the key's metadata without it.
func (sv *Service) Create(ctx context.Context, c auth.Caller, in CreateInput, key idempotency.Requested) (Created, *idempotency.Record, error) {
	// The claim is checked first, on the input as sent: a malformed key is a 400 at no cost.
	idem, err := key.Claim(in, sv.now())
	if err != nil {
		return Created{}, nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 128 {
		return Created{}, nil, problem.Invalid("name", "is required, at most 128 characters")
	}
	if len(in.Description) > 1024 {
		return Created{}, nil, problem.Invalid("description", "must be at most 1024 characters")
	}
	scopes, err := NormalizeScopes(in.Scopes)
	if err != nil {
		return Created{}, nil, err
	}
	limit := DefaultRateLimit
	if in.RateLimit != nil {
		if *in.RateLimit < 1 || *in.RateLimit > MaxRateLimit {
			return Created{}, nil, problem.Invalid("rateLimit", fmt.Sprintf("must be from 1 to %d requests per hour", MaxRateLimit))
		}
		limit = *in.RateLimit
	}
	// Each key has its own hourly limit: unbounded keys would multiply a user's rate (SEC-20).
	if n, err := sv.Store.Count(ctx, c.UserID); err != nil {
		return Created{}, nil, err
	} else if n >= MaxKeysPerUser {
		return Created{}, nil, problem.Conflict(fmt.Sprintf("at most %d API keys per user: delete keys you no longer use", MaxKeysPerUser))
	}
	now := sv.now()
	k := Key{ID: ids.New("key"), OwnerID: c.UserID, Name: name, Description: in.Description, Scopes: scopes, RateLimit: limit, CreatedAt: now}
	if in.ExpiresIn != "" {
		exp, err := ParseExpiresIn(in.ExpiresIn, now)
		if err != nil {
			return Created{}, nil, err
		}
		k.ExpiresAt = &exp
	}
	secret, err := NewSecret()
	if err != nil {
		return Created{}, nil, err
	}
	k.KeyPrefix = Prefix(secret)
	// What a replay answers: the metadata only, never the secret.
	if err := idem.Respond(http.StatusCreated, "/api/v1/api-keys/"+k.ID, k); err != nil {
		return Created{}, nil, err
	}
	rec, err := sv.Store.CreateClaimed(ctx, k, Hash(secret), idem)
	if err != nil || rec != nil {
		return Created{}, rec, err
	}
	return Created{Key: k, Secret: secret}, nil, nil
}

// Authenticate resolves a presented key; ok is false for unknown, revoked or expired keys.
func (sv *Service) Authenticate(ctx context.Context, secret string) (Key, bool, error) {
	if !WellFormed(secret) {
		return Key{}, false, nil
	}
	k, found, err := sv.Store.ByHash(ctx, Hash(secret))
	if err != nil || !found {
		return Key{}, false, err
	}
	if k.Revoked || k.Expired(sv.now()) {
		return Key{}, false, nil
	}
	return k, true, nil
}

// Guard enforces the hourly limit of the calling key and sets the RateLimit-* headers.
func (sv *Service) Guard(w http.ResponseWriter, r *http.Request, c auth.Caller, rt routes.Route) error {
	if !c.ViaAPIKey() {
		return nil
	}
	limit := c.RateLimit
	if limit < 1 {
		limit = DefaultRateLimit
	}
	now := sv.now()
	win, err := sv.Usage.Admit(r.Context(), c.KeyID, rt.Key(), limit, now)
	if err != nil {
		return err
	}
	reset := int(win.ResetAt.Sub(now).Seconds()) + 1
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, limit-win.Count)))
	h.Set("RateLimit-Reset", strconv.Itoa(reset))
	if win.Allowed {
		return nil
	}
	if win.FirstDeny {
		if err := sv.markRateLimited(r.Context(), c, now); err != nil {
			sv.Log.ErrorContext(r.Context(), "mark key rate limited", slog.String("keyId", c.KeyID), slog.String("error", err.Error()))
		}
	}
	return problem.TooManyRequests(fmt.Sprintf("this API key is limited to %d requests per hour", limit), reset)
}

func (sv *Service) markRateLimited(ctx context.Context, c auth.Caller, now time.Time) error {
	_, hash, err := sv.Store.owned(ctx, c.UserID, c.KeyID)
	if err != nil {
		return err
	}
	return sv.Store.MarkRateLimited(ctx, hash, now.Format(hourLayout))
}

// Observe writes the usage record of every request made with a key.
func (sv *Service) Observe(r *http.Request, c auth.Caller, rt routes.Route, status int) {
	if !c.ViaAPIKey() {
		return
	}
	gw, _ := core.GetAPIGatewayV2ContextFromContext(r.Context())
	rec := Record{KeyID: c.KeyID, Method: r.Method, Route: rt.Key(), Path: rt.Redacted(r.PathValue), Status: status,
		IP: gw.HTTP.SourceIP, UserAgent: truncate(r.UserAgent(), 512), RequestID: gw.RequestID, Time: sv.now()}
	if rec.RequestID == "" {
		rec.RequestID = ids.New("req")
	}
	if err := sv.Usage.Log(r.Context(), rec); err != nil {
		sv.Log.ErrorContext(r.Context(), "api key usage", slog.String("keyId", c.KeyID), slog.String("error", err.Error()))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Hooks are the router hooks every HTTP function installs.
func (sv *Service) Hooks() httpx.Hooks {
	return httpx.Hooks{Guards: []httpx.Guard{sv.Guard}, Observers: []httpx.Observer{sv.Observe}}
}

// List is one page of the caller's keys, with when each was last used.
func (sv *Service) List(ctx context.Context, c auth.Caller, q paging.Query) ([]Key, string, error) {
	keys, next, err := sv.Store.List(ctx, c.UserID, q.Limit, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	idList := make([]string, len(keys))
	for i, k := range keys {
		idList[i] = k.ID
	}
	used, err := sv.Usage.LastUsed(ctx, idList)
	if err != nil {
		return nil, "", err
	}
	for i := range keys {
		if t, ok := used[keys[i].ID]; ok {
			keys[i].LastUsedAt = &t
		}
	}
	return keys, next, nil
}

// Revoke ends one of the caller's keys (revoking twice is harmless).
func (sv *Service) Revoke(ctx context.Context, c auth.Caller, id string) (Key, error) {
	return sv.Store.Revoke(ctx, c.UserID, id, sv.now())
}

// Delete removes one of the caller's keys.
func (sv *Service) Delete(ctx context.Context, c auth.Caller, id string) error {
	return sv.Store.Delete(ctx, c.UserID, id)
}

// Stats is how one of the caller's keys has been used.
func (sv *Service) Stats(ctx context.Context, c auth.Caller, id string) (Stats, error) {
	k, _, err := sv.Store.owned(ctx, c.UserID, id)
	if err != nil {
		return Stats{}, err
	}
	return sv.Usage.Stats(ctx, k, sv.now())
}
