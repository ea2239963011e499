package routes

import "testing"

func TestRedactedKeepsSecretsOut(t *testing.T) {
	vals := map[string]string{"token": "inv_secret", "id": "sess_1", "key": "a/b"}
	get := func(n string) string { return vals[n] }
	for path, want := range map[string]string{
		"/api/v1/invitations/{token}/accept": "/api/v1/invitations/{token}/accept",
		"/api/v1/sessions/{id}/connect":      "/api/v1/sessions/sess_1/connect",
		"/api/v1/local-objects/{key+}":       "/api/v1/local-objects/a/b",
	} {
		if got := (Route{Path: path}).Redacted(get); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}
