package meta_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"streamspace/internal/httpx"
	"streamspace/internal/meta"
	"streamspace/internal/openapi"
	"streamspace/internal/routes"
)

// The meta function serves every route the table gives it, the document among them, exactly as
// openapi.Document builds it.
func TestMetaServesTheDocument(t *testing.T) {
	rt := httpx.NewRouter(routes.FnMeta, slog.New(slog.NewTextHandler(io.Discard, nil)), httpx.Hooks{})
	meta.Register(rt)
	if missing := rt.Unregistered(); len(missing) > 0 {
		t.Fatalf("meta lacks handlers for %v", missing)
	}
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	doc, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != string(doc) {
		t.Fatal("served bytes differ from openapi.Document()")
	}
}
