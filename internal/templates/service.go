package templates

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
)

// Service holds the catalogue's rules; handlers translate HTTP to calls on it.
type Service struct{ Store *Store }

// ListQuery filters the catalogue (see Filter) and pages it by name.
type ListQuery struct {
	Q, Category, Tag string
	paging.Query
}

// List is one page of the catalogue, by name. The catalogue is small and read whole, so it is
// paged here: the cursor is the last name of the previous page.
func (sv *Service) List(ctx context.Context, _ auth.Caller, lq ListQuery) ([]Template, string, error) {
	for i, v := range []string{lq.Q, lq.Category, lq.Tag, lq.Cursor} {
		if len(v) > 128 {
			return nil, "", problem.Invalid([]string{"q", "category", "tag", "cursor"}[i], "must be at most 128 characters")
		}
	}
	cursor, err := decodeCursor(lq.Cursor)
	if err != nil {
		return nil, "", err
	}
	all, err := sv.Store.All(ctx)
	if err != nil {
		return nil, "", err
	}
	items := Filter(all, lq.Q, lq.Category, lq.Tag)
	start := 0
	for start < len(items) && cursor != "" && items[start].Name <= cursor {
		start++
	}
	items = items[start:]
	next := ""
	if len(items) > lq.Limit {
		items = items[:lq.Limit]
		next = encodeCursor(items[lq.Limit-1].Name)
	}
	if items == nil {
		items = []Template{}
	}
	return items, next, nil
}

// Get reads a template; every caller may.
func (sv *Service) Get(ctx context.Context, _ auth.Caller, name string) (Template, error) {
	return sv.Store.Get(ctx, name)
}

func requireOperator(c auth.Caller) error {
	if !c.IsOperator() {
		return problem.Forbidden("managing templates needs the operator or admin role")
	}
	return nil
}

// requireAdminForCode: what runs in every session of a template (image) and on the host of the
// local stack (localCommand) is set and changed by admins only; operators edit the rest
// (security review SEC-20). old is nil on create.
func requireAdminForCode(c auth.Caller, old *Template, t Template) error {
	if c.IsAdmin() {
		return nil
	}
	switch {
	case old == nil:
		return problem.Forbidden("a new template sets what runs in its sessions (image, localCommand): that needs the admin role")
	case t.Image != old.Image:
		return problem.Forbidden("changing a template's image needs the admin role (it runs in everyone's sessions)")
	case t.LocalCommand != old.LocalCommand:
		return problem.Forbidden("changing a template's localCommand needs the admin role (it runs on the host)")
	}
	return nil
}

// Create adds a template. A record back is a replay of an earlier create with the same
// Idempotency-Key, to be answered as stored.
func (sv *Service) Create(ctx context.Context, c auth.Caller, t Template, key idempotency.Requested) (Template, *idempotency.Record, error) {
	if err := requireOperator(c); err != nil {
		return Template{}, nil, err
	}
	if err := t.Validate(); err != nil {
		return Template{}, nil, err
	}
	if err := requireAdminForCode(c, nil, t); err != nil {
		return Template{}, nil, err
	}
	now := time.Now().UTC()
	idem, err := key.Claim(t, now)
	if err != nil {
		return Template{}, nil, err
	}
	t.CreatedAt, t.UpdatedAt, t.Version = now, now, 1
	if err := idem.Respond(http.StatusCreated, "", t); err != nil {
		return Template{}, nil, err
	}
	rec, err := sv.Store.Create(ctx, t, idem)
	if err != nil || rec != nil {
		return Template{}, rec, err
	}
	return t, nil, nil
}

// Replace writes a whole template over the one named, on the version ifMatch names (nil: any).
func (sv *Service) Replace(ctx context.Context, c auth.Caller, name string, t Template, ifMatch *int) (Template, error) {
	if err := requireOperator(c); err != nil {
		return Template{}, err
	}
	if t.Name != "" && t.Name != name {
		return Template{}, problem.Invalid("name", "must match the name in the path")
	}
	t.Name = name
	if err := t.Validate(); err != nil {
		return Template{}, err
	}
	// A replace is whole, but each attempt writes on the version it read: N concurrent replaces
	// make N versions, none written over unseen.
	err := ddb.RetryOnVersionConflict(ifMatch, "template", func() error {
		old, err := sv.Store.Get(ctx, name)
		if err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(ifMatch, "template", old.Version); err != nil {
			return err
		}
		if err := requireAdminForCode(c, &old, t); err != nil {
			return err
		}
		t.CreatedAt, t.UpdatedAt, t.Version = old.CreatedAt, time.Now().UTC(), old.Version+1
		return sv.Store.Replace(ctx, t, old.Version)
	})
	return t, err
}

// Delete removes a template, for operators.
func (sv *Service) Delete(ctx context.Context, c auth.Caller, name string) error {
	if err := requireOperator(c); err != nil {
		return err
	}
	return sv.Store.Delete(ctx, name)
}

const cursorPrefix = "tpl:"

// Catalog cursors are opaque to clients: the last name of the page, encoded.
func encodeCursor(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + name))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	name, ok := strings.CutPrefix(string(b), cursorPrefix)
	if err != nil || !ok || !ValidName(name) {
		return "", problem.Invalid("cursor", "is not a cursor of this listing")
	}
	return name, nil
}
