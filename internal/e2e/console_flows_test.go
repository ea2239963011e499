package e2e

import (
	"strings"
	"testing"
	"time"

	"streamspace/internal/testenv"
)

// An API key's secret is shown once: after a reload it is nowhere on the page; the key's usage
// and revoke work from the page. Also audits the sign-in, sessions, keys and admin screens.
func TestConsoleAPIKeySecretShownOnce(t *testing.T) {
	e := testenv.Start(t)
	alice := consolePage(t, e, "alice")
	alice.visit("/")
	alice.audit("sign-in")
	alice.signIn("alice", "user")
	alice.wait("the empty session list", `document.body.innerText.includes("No sessions yet")`, 10*time.Second)
	alice.audit("my-sessions")

	alice.visit("/api-keys")
	alice.wait("the keys page", `document.body.innerText.includes("No API keys")`, 10*time.Second)
	alice.audit("api-keys")
	alice.typeIn("#key-name", "ci")
	alice.clickText("Create key")
	alice.wait("the secret", `(document.querySelector("[data-secret] input") || {}).value?.startsWith("sk_")`, 10*time.Second)
	secret := alice.js(`document.querySelector("[data-secret] input").value`)
	alice.audit("api-keys-secret")
	// The key works (the secret is real), and shows up in its usage.
	e.Do("GET", "/api/v1/sessions", secret, nil).Want(t, 200)
	alice.run("reload", reload())
	alice.wait("the key listed", `!!document.querySelector("[data-key]")`, 10*time.Second)
	if html := alice.js(`document.documentElement.outerHTML`); strings.Contains(html, secret) || strings.Contains(html, secret[10:]) {
		t.Fatal("the key's secret is still on the page after a reload")
	}
	if alice.js(`JSON.stringify({...localStorage, ...sessionStorage})`) != "" && strings.Contains(alice.js(`JSON.stringify({...localStorage, ...sessionStorage})`), secret) {
		t.Fatal("the key's secret is kept in the browser's storage")
	}
	alice.clickText("Show usage")
	alice.wait("the usage chart", `!!document.querySelector("svg.chart") && document.body.innerText.includes("1 requests in all")`, 10*time.Second)
	alice.clickText("Revoke ci")
	alice.wait("revoked", `document.body.innerText.includes("revoked")`, 10*time.Second)
	e.Do("GET", "/api/v1/sessions", secret, nil).Want(t, 401)

	// An operator's admin screen, and a plain user's errors in words (no stack, no JSON).
	root := consolePage(t, e, "root")
	root.visit("/admin")
	root.signIn("root", "admin")
	root.wait("the admin page", `document.body.innerText.includes("Platform activity") && document.body.innerText.includes("firefox-browser")`, 15*time.Second)
	root.audit("admin")
	alice.visit("/admin")
	alice.wait("no admin link for a user", `!document.querySelector('nav a[href="/admin"]') && document.body.innerText.includes("Platform activity")`, 10*time.Second)
	alice.wait("the refusal in words", `document.querySelectorAll(".error").length > 0`, 10*time.Second)
	if txt := alice.js(`[...document.querySelectorAll(".error")].map(e => e.textContent).join(" | ")`); strings.ContainsAny(txt, "{}") || strings.Contains(txt, "goroutine") {
		t.Fatalf("an error shown as raw data: %q", txt)
	}
}
