package httpx

import (
	"net/http"

	"streamspace/internal/idempotency"
)

// WriteVersioned answers a resource with its version in the ETag header.
func WriteVersioned(w http.ResponseWriter, status, version int, v any) {
	SetETag(w, version)
	WriteJSON(w, status, v)
}

// WriteCreated answers a create: the stored first answer when replay is not nil (a retry with
// the same Idempotency-Key), else status with v and, when not empty, Location.
func WriteCreated(w http.ResponseWriter, replay *idempotency.Record, status int, location string, v any) {
	if replay != nil {
		replay.Write(w)
		return
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	WriteJSON(w, status, v)
}

// NoContent answers 204.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
