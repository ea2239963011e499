package sessions

import (
	"context"
	"net/http"

	"streamspace/internal/auth"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
)

// Register adds the /sessions routes to a router.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("POST /api/v1/sessions", h.create)
	rt.Handle("GET /api/v1/sessions", h.list)
	rt.Handle("GET /api/v1/sessions/{id}", h.get)
	rt.Handle("PATCH /api/v1/sessions/{id}", h.patch)
	rt.Handle("DELETE /api/v1/sessions/{id}", h.delete)
	rt.Handle("PUT /api/v1/sessions/{id}/tags", h.replaceTags)
	rt.Handle("PATCH /api/v1/sessions/{id}/tags", h.editTags)
	rt.Handle("POST /api/v1/sessions/{id}/connect", h.connect)
	rt.Handle("POST /api/v1/sessions/{id}/disconnect", h.disconnect)
	rt.Handle("POST /api/v1/sessions/{id}/heartbeat", h.heartbeat)
	rt.Handle("POST /api/v1/sessions/{id}/status", h.status)
	rt.Handle("POST /api/v1/sessions/{id}/transfer", h.transfer)
	rt.Handle("DELETE /api/v1/sessions/{id}/transfer", h.cancelTransfer)
	rt.Handle("POST /api/v1/sessions/{id}/transfer/accept", h.acceptTransfer)
	rt.Handle("POST /api/v1/sessions/{id}/transfer/decline", h.declineTransfer)
}

type handler struct{ sv *Service }

func writeSession(w http.ResponseWriter, status int, se Session) {
	httpx.WriteVersioned(w, status, se.Version, se)
}

func (h handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	// The claim is checked before anything is read, so a malformed key is a 400 at no cost.
	idem, err := idempotency.FromRequest(r, c.UserID, in, h.sv.now())
	if err != nil {
		return err
	}
	se, replay, err := h.sv.CreateClaimed(r.Context(), c, in, idem)
	if err != nil {
		return err
	}
	if replay {
		idempotency.MarkReplayed(w)
	}
	w.Header().Set("Location", "/api/v1/sessions/"+se.ID)
	writeSession(w, http.StatusCreated, se)
	return nil
}

func (h handler) list(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, func(ctx context.Context, c auth.Caller, p paging.Query) ([]Session, string, error) {
		lq, err := listQuery(r, p)
		if err != nil {
			return nil, "", err
		}
		return h.sv.List(ctx, c, lq)
	})
}

// listQuery reads the listing's filters.
func listQuery(r *http.Request, p paging.Query) (ListQuery, error) {
	q := r.URL.Query()
	lq := ListQuery{OwnerID: q.Get("ownerId"), State: q.Get("state"), Tag: q.Get("tag"),
		TemplateName: q.Get("templateName"), Limit: p.Limit, Cursor: p.Cursor}
	switch q.Get("all") {
	case "", "false":
	case "true":
		lq.All = true
	default:
		return lq, problem.Invalid("all", "must be true or false")
	}
	if lq.All && lq.OwnerID != "" {
		return lq, problem.Invalid("all", "cannot be combined with ownerId")
	}
	switch lq.State {
	case "", StatePending, StateRunning, StateHibernated, StateTerminated, StateFailed:
	default:
		return lq, problem.Invalid("state", "must be pending, running, hibernated, terminated or failed")
	}
	for name, v := range map[string]string{"ownerId": lq.OwnerID, "tag": lq.Tag, "templateName": lq.TemplateName} {
		if len(v) > 128 {
			return lq, problem.Invalid(name, "must be at most 128 characters")
		}
	}
	return lq, nil
}

func (h handler) get(w http.ResponseWriter, r *http.Request) error {
	se, g, err := h.sv.Get(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, se.Version, View{Session: se, YourAccess: AccessOf(g)})
	return nil
}

func (h handler) patch(w http.ResponseWriter, r *http.Request) error {
	var in PatchInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	se, err := h.sv.Patch(r.Context(), httpx.Caller(r), r.PathValue("id"), in, im)
	if err != nil {
		return err
	}
	writeSession(w, http.StatusOK, se)
	return nil
}

func (h handler) delete(w http.ResponseWriter, r *http.Request) error {
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	se, err := h.sv.Delete(r.Context(), httpx.Caller(r), r.PathValue("id"), im)
	if err != nil {
		return err
	}
	writeSession(w, http.StatusOK, se)
	return nil
}

func (h handler) replaceTags(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Tags []string `json:"tags"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Tags == nil {
		return problem.Invalid("tags", "is required (an empty array clears the tags)")
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	se, err := h.sv.SetTags(r.Context(), httpx.Caller(r), r.PathValue("id"), in.Tags, nil, nil, im)
	if err != nil {
		return err
	}
	writeSession(w, http.StatusOK, se)
	return nil
}

func (h handler) editTags(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Add    []string `json:"add"`
		Remove []string `json:"remove"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if len(in.Add) == 0 && len(in.Remove) == 0 {
		return problem.Invalid("body", "give tags to add or remove")
	}
	if len(in.Remove) > MaxTags {
		return problem.Invalid("remove", "at most 50 tags")
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	se, err := h.sv.SetTags(r.Context(), httpx.Caller(r), r.PathValue("id"), nil, in.Add, in.Remove, im)
	if err != nil {
		return err
	}
	writeSession(w, http.StatusOK, se)
	return nil
}

func (h handler) connect(w http.ResponseWriter, r *http.Request) error {
	res, err := h.sv.Connect(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the ticket is a credential
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

type connectionBody struct {
	ConnectionID string `json:"connectionId"`
}

func (h handler) disconnect(w http.ResponseWriter, r *http.Request) error {
	var in connectionBody
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.ConnectionID == "" {
		return problem.Invalid("connectionId", "is required")
	}
	if err := h.sv.Disconnect(r.Context(), httpx.Caller(r), r.PathValue("id"), in.ConnectionID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h handler) heartbeat(w http.ResponseWriter, r *http.Request) error {
	var in connectionBody
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
	}
	se, err := h.sv.Heartbeat(r.Context(), httpx.Caller(r), r.PathValue("id"), in.ConnectionID)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"sessionId": se.ID, "lastActivity": se.LastActivity, "state": se.State})
	return nil
}

func (h handler) status(w http.ResponseWriter, r *http.Request) error {
	var in StatusReport
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	se, err := h.sv.ReportStatus(r.Context(), httpx.Caller(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeSession(w, http.StatusOK, se)
	return nil
}

func (h handler) transfer(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		NewOwnerUserID string `json:"newOwnerUserId"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	se, err := h.sv.Transfer(r.Context(), httpx.Caller(r), r.PathValue("id"), in.NewOwnerUserID)
	if err != nil {
		return err
	}
	writeSession(w, http.StatusAccepted, se) // an offer: nothing moved yet
	return nil
}

func (h handler) acceptTransfer(w http.ResponseWriter, r *http.Request) error {
	se, err := h.sv.AcceptTransfer(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeSession(w, http.StatusOK, se)
	return nil
}

func (h handler) declineTransfer(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.DeclineTransfer(r.Context(), httpx.Caller(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h handler) cancelTransfer(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.CancelTransfer(r.Context(), httpx.Caller(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
