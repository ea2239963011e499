package templates

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"streamspace/internal/ddb"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/problem"
)

// Register adds the catalog routes to a router.
func Register(rt *httpx.Router, s *Store) {
	h := handler{s}
	rt.Handle("GET /api/v1/templates", h.list)
	rt.Handle("GET /api/v1/templates/{name}", h.get)
	rt.Handle("POST /api/v1/templates", h.create)
	rt.Handle("PUT /api/v1/templates/{name}", h.replace)
	rt.Handle("DELETE /api/v1/templates/{name}", h.delete)
}

type handler struct{ s *Store }

func (h handler) list(w http.ResponseWriter, r *http.Request) error {
	limit, err := httpx.QueryInt(r, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	for _, p := range []string{"q", "category", "tag", "cursor"} {
		if len(q.Get(p)) > 128 {
			return problem.Invalid(p, "must be at most 128 characters")
		}
	}
	cursor, err := decodeCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	all, err := h.s.All(r.Context())
	if err != nil {
		return err
	}
	items := Filter(all, q.Get("q"), q.Get("category"), q.Get("tag"))
	start := 0
	for start < len(items) && cursor != "" && items[start].Name <= cursor {
		start++
	}
	items = items[start:]
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = encodeCursor(items[limit-1].Name)
	}
	if items == nil {
		items = []Template{}
	}
	httpx.WritePage(w, items, next)
	return nil
}

func (h handler) get(w http.ResponseWriter, r *http.Request) error {
	t, err := h.s.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpx.SetETag(w, t.Version)
	httpx.WriteJSON(w, http.StatusOK, t)
	return nil
}

func requireOperator(r *http.Request) error {
	if !httpx.Caller(r).IsOperator() {
		return problem.Forbidden("managing templates needs the operator or admin role")
	}
	return nil
}

// requireAdminForCode: what runs in every session of a template (image) and on the host of the
// local stack (localCommand) is set and changed by admins only; operators edit the rest
// (security review SEC-20). old is nil on create.
func requireAdminForCode(r *http.Request, old *Template, t Template) error {
	if httpx.Caller(r).IsAdmin() {
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

func (h handler) create(w http.ResponseWriter, r *http.Request) error {
	if err := requireOperator(r); err != nil {
		return err
	}
	var t Template
	if err := httpx.DecodeJSON(r, &t); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if err := requireAdminForCode(r, nil, t); err != nil {
		return err
	}
	now := time.Now().UTC()
	idem, err := idempotency.FromRequest(r, httpx.Caller(r).UserID, t, now)
	if err != nil {
		return err
	}
	t.CreatedAt, t.UpdatedAt, t.Version = now, now, 1
	if err := idem.Respond(http.StatusCreated, "", t); err != nil {
		return err
	}
	rec, err := h.s.Create(r.Context(), t, idem)
	if err != nil {
		return err
	}
	if rec != nil {
		rec.Write(w)
		return nil
	}
	httpx.WriteJSON(w, http.StatusCreated, t)
	return nil
}

func (h handler) replace(w http.ResponseWriter, r *http.Request) error {
	if err := requireOperator(r); err != nil {
		return err
	}
	var t Template
	if err := httpx.DecodeJSON(r, &t); err != nil {
		return err
	}
	name := r.PathValue("name")
	if t.Name != "" && t.Name != name {
		return problem.Invalid("name", "must match the name in the path")
	}
	t.Name = name
	if err := t.Validate(); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	// A replace is whole, but each attempt writes on the version it read: N concurrent replaces
	// make N versions, none written over unseen.
	err = ddb.RetryOnVersionConflict(im, "template", func() error {
		old, err := h.s.Get(r.Context(), name)
		if err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(im, "template", old.Version); err != nil {
			return err
		}
		if err := requireAdminForCode(r, &old, t); err != nil {
			return err
		}
		t.CreatedAt, t.UpdatedAt, t.Version = old.CreatedAt, time.Now().UTC(), old.Version+1
		return h.s.Replace(r.Context(), t, old.Version)
	})
	if err != nil {
		return err
	}
	httpx.SetETag(w, t.Version)
	httpx.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (h handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := requireOperator(r); err != nil {
		return err
	}
	if err := h.s.Delete(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
