package tickets

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func keyring(t *testing.T, signing string, ids ...string) *Keyring {
	t.Helper()
	ks := KeySet{Signing: signing, Keys: map[string]string{}}
	for _, id := range ids {
		ks.Keys[id] = base64.StdEncoding.EncodeToString([]byte(strings.Repeat(id, 32)[:32]))
	}
	k, err := Static(ks)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var now = time.Unix(1_800_000_000, 0)

func claims() Claims {
	return Claims{SessionID: "sess_1", UserID: "bob", Level: "view", ConnectionID: "conn_1", ExpiresAt: now.Add(Lifetime).Unix()}
}

func TestSignVerify(t *testing.T) {
	k := keyring(t, "k1", "k1")
	tk, err := k.Sign(context.Background(), claims())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tk {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", r) {
			t.Fatalf("ticket has %q, not a token character for Sec-WebSocket-Protocol", r)
		}
	}
	got, err := k.Verify(tk, now)
	if err != nil || got != claims() {
		t.Fatalf("verify: %+v %v", got, err)
	}
	if _, err := k.Verify(tk, now.Add(Lifetime)); err != ErrExpired {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
}

func TestTamperedAndForeignTicketsFail(t *testing.T) {
	k := keyring(t, "k1", "k1")
	tk, _ := k.Sign(context.Background(), claims())
	parts := strings.Split(tk, ".")
	other := claims()
	other.Level = "control"
	impostor, err := Static(KeySet{Signing: "k1", Keys: map[string]string{"k1": base64.StdEncoding.EncodeToString(make([]byte, 32))}})
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := impostor.Sign(context.Background(), other) // the same key id, another key
	body, _ := base64.RawURLEncoding.DecodeString(parts[2])
	edited := strings.Join([]string{parts[0], parts[1],
		base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), `"view"`, `"control"`, 1))), parts[3]}, ".")
	cases := map[string]struct {
		ticket string
		want   error
	}{
		"edited level":      {edited, ErrSignature},
		"another key":       {forged, ErrSignature},
		"unknown key id":    {strings.Replace(tk, ".k1.", ".k9.", 1), ErrUnknownKey},
		"not a ticket":      {"hello", ErrMalformed},
		"other version":     {"v2" + tk[2:], ErrMalformed},
		"bad signature b64": {tk[:len(tk)-2] + "!!", ErrMalformed},
		"huge":              {strings.Repeat("a", 4096), ErrMalformed},
	}
	for name, c := range cases {
		if _, err := k.Verify(c.ticket, now); err != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// Rotation without downtime: tickets of the old key verify while both are known; once the
// new key signs and the old one is removed, old tickets stop working.
func TestRotation(t *testing.T) {
	old := keyring(t, "k1", "k1")
	tk, _ := old.Sign(context.Background(), claims())
	both := keyring(t, "k2", "k1", "k2")
	if _, err := both.Verify(tk, now); err != nil {
		t.Fatalf("old ticket during rotation: %v", err)
	}
	fresh, _ := both.Sign(context.Background(), claims())
	if !strings.HasPrefix(fresh, "v1.k2.") {
		t.Fatalf("signed with %q, want the new key", fresh[:6])
	}
	if _, err := keyring(t, "k2", "k2").Verify(tk, now); err != ErrUnknownKey {
		t.Fatalf("old ticket after the old key is gone: %v", err)
	}
}

func TestKeySetsAreChecked(t *testing.T) {
	for name, ks := range map[string]KeySet{
		"short key":       {Signing: "a", Keys: map[string]string{"a": base64.StdEncoding.EncodeToString([]byte("short"))}},
		"missing signing": {Signing: "b", Keys: map[string]string{"a": base64.StdEncoding.EncodeToString(make([]byte, 32))}},
		"bad id":          {Signing: "a b", Keys: map[string]string{"a b": base64.StdEncoding.EncodeToString(make([]byte, 32))}},
	} {
		if _, err := Static(ks); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFileSourceCreatesPrivateKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d", "keys.json")
	k1, err := NewKeyring(context.Background(), FileSource(p))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v, want mode 0600", st, err)
	}
	tk, _ := k1.Sign(context.Background(), claims())
	k2, err := NewKeyring(context.Background(), FileSource(p)) // a restart reads the same keys
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Verify(tk, now); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}

func TestProtocolsAndUpstreams(t *testing.T) {
	if got := FromProtocols([]string{"binary", " streamspace.ticket.v1.k.p.s"}); got != "v1.k.p.s" {
		t.Errorf("FromProtocols: %q", got)
	}
	if got := FromProtocols([]string{"binary"}); got != "" {
		t.Errorf("FromProtocols without a ticket: %q", got)
	}
	for in, want := range map[string]string{"unix:/a/vnc.sock": "unix /a/vnc.sock", "tcp:10.0.0.1:5900": "tcp 10.0.0.1:5900"} {
		n, a, err := ParseUpstream(in)
		if err != nil || n+" "+a != want {
			t.Errorf("ParseUpstream(%q) = %s %s %v", in, n, a, err)
		}
	}
	for _, bad := range []string{"", "http://x", "udp:1.2.3.4:5", "tcp:"} {
		if _, _, err := ParseUpstream(bad); err == nil {
			t.Errorf("ParseUpstream(%q) accepted", bad)
		}
	}
	if got := ConnectURL("https://x/gateway/", "sess_1", "T"); got != "https://x/gateway/s/sess_1#ticket=T" {
		t.Errorf("ConnectURL: %q", got)
	}
}
