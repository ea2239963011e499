// Package meta serves the public routes that say whether the service is up and what it is.
package meta

import (
	"net/http"

	"streamspace/internal/httpx"
	"streamspace/internal/openapi"
)

// Version is set at build time (-ldflags "-X streamspace/internal/meta.Version=…").
var Version = "dev"

// Register adds the public health, version and API-description routes; they reveal nothing
// sensitive.
func Register(rt *httpx.Router) {
	rt.Handle("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) error {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	rt.Handle("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) error {
		// No toolchain version: it would tell an attacker which standard-library CVEs apply (SEC-20).
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"version": Version, "apiVersion": "v1"})
		return nil
	})
	// The document is built from the route table and the handlers' types when first asked for,
	// so what is served cannot differ from what the code does (the tests check responses
	// against this very document).
	rt.Handle("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		doc, err := openapi.Document()
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, err = w.Write(doc)
		return err
	})
}
