// Package meta serves the public routes that say whether the service is up and what it is.
package meta

import (
	"net/http"
	"runtime"

	"streamspace/internal/httpx"
)

// Version is set at build time (-ldflags "-X streamspace/internal/meta.Version=…").
var Version = "dev"

// Register adds the public health and version routes; they reveal nothing sensitive.
func Register(rt *httpx.Router) {
	rt.Handle("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) error {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	rt.Handle("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) error {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"version": Version, "apiVersion": "v1", "go": runtime.Version()})
		return nil
	})
}
