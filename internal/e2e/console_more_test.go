package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"streamspace/internal/local/stack"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// The Launch screen's quota comes from GET /users/me/quota: a new account waiting for a role
// grant is told so before it tries; a full quota is said before a launch is refused, and clears
// without a reload when a session ends.
func TestConsoleLaunchQuota(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.RequireRoleGrant = true
		c.Limits = sessions.Limits{MaxSessions: 1, MaxCPUMillis: 16000, MaxMemoryMiB: 32768}
	})
	tok, admin := e.Token("alice", ""), e.Token("admin", "admin")
	seen(t, e, tok)
	newbie := consolePage(t, e, "newbie")
	newbie.visit("/launch")
	newbie.signIn("newbie", "user")
	newbie.wait("the role-grant notice", `document.body.innerText.includes("waits for an administrator to grant it a role")
		&& document.getElementById("g-sessions")?.max === 1 && document.querySelector(".quota")?.innerText.includes("0 of 0")`, 10*time.Second)
	newbie.audit("launch-awaiting-grant")

	e.Do("PUT", "/api/v1/users/alice/role", admin, map[string]string{"role": "user"}).Want(t, 200)
	s := create(t, e, tok, map[string]any{"templateName": "terminal"})
	alice := consolePage(t, e, "alice")
	alice.visit("/launch")
	alice.signIn("alice", "user")
	alice.wait("the full-quota notice", `document.body.innerText.includes("You are using all 1 of your sessions")
		&& !document.body.innerText.includes("waits for an administrator")`, 10*time.Second)
	e.Do("DELETE", "/api/v1/sessions/"+s.ID, tok, nil).Want(t, 200)
	alice.wait("the notice gone without a reload", fmt.Sprintf(`!document.body.innerText.includes("You are using all") && %s`,
		`document.querySelector(".quota")?.innerText.includes("0 of 1")`), 10*time.Second)
}

// pausableWebSocket lets a test hold back the page's live events (window.__wsPaused), so the
// page keeps a stale version of a session while the API moves on: how a 412 happens for real.
const pausableWebSocket = `(() => { if (window !== window.top) return; // the console, not the viewer's frame
  const W = window.WebSocket; window.__wsPaused = false;
  window.WebSocket = class extends W {
    set onmessage(h) { super.onmessage = (m) => { if (!window.__wsPaused) h.call(this, m); }; }
    get onmessage() { return super.onmessage; }
  };
})();`

// beforeScripts runs src in every document of the page before its own scripts.
func (p *page) beforeScripts(src string) {
	p.t.Helper()
	p.run("script on new documents", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return chromedp.Void{}, err
	})
}

func rowState(id, state string) string {
	return fmt.Sprintf(`document.querySelector('tr[data-session=%q]')?.dataset.state === %q`, id, state)
}

// From the list: hibernate and wake a terminal session; a change the page missed makes its next
// If-Match call a 412, said in words with the row refreshed. On the session page: tags added
// and removed; a recording of the open desktop downloaded (the bytes the gateway measured) and
// deleted.
func TestConsoleLifecycleTagsRecordings(t *testing.T) {
	e := startLocal(t)
	tok := e.Token("alice", "")
	s := runningTerminal(t, e, tok, nil)
	alice := consolePage(t, e, "alice")
	alice.beforeScripts(pausableWebSocket)
	alice.visit("/")
	alice.signIn("alice", "user")
	alice.wait("the running row", rowState(s.ID, "running"), 10*time.Second)
	label := "terminal " + s.ID

	alice.clickText("Hibernate " + label)
	alice.wait("hibernated in the list", rowState(s.ID, "hibernated"), startWait)
	alice.audit("my-sessions-hibernated")
	alice.clickText("Wake " + label)
	alice.wait("running again in the list", rowState(s.ID, "running"), startWait)

	alice.js(`window.__wsPaused = true; ""`)
	e.Do("PATCH", "/api/v1/sessions/"+s.ID+"/tags", tok, map[string]any{"add": []string{"changed-elsewhere"}}).Want(t, 200)
	alice.clickText("Hibernate " + label)
	alice.wait("the 412 in words", fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-session=%q]');
		return r.innerText.includes("Someone changed this in the meantime") && r.innerText.includes("changed-elsewhere"); })()`, s.ID), 10*time.Second)
	if got := alice.js(`document.body.innerText`); strings.Contains(got, `"status"`) || strings.Contains(got, "precondition") {
		t.Fatalf("the 412 is shown as raw problem text: %q", got)
	}
	var cur session
	e.Do("GET", "/api/v1/sessions/"+s.ID, tok, nil).Want(t, 200).Decode(t, &cur)
	if cur.DesiredState != "running" {
		t.Fatalf("the refused hibernate changed the session: desiredState %q", cur.DesiredState)
	}
	alice.js(`window.__wsPaused = false; ""`)

	// Tags on the session page.
	alice.click(fmt.Sprintf(`tr[data-session=%q] a`, s.ID))
	alice.wait("the session page", `!!document.getElementById("tag-add")`, 10*time.Second)
	alice.typeIn("#tag-add", "blue")
	alice.clickText("Add")
	alice.wait("the tag shown", `[...document.querySelectorAll("ul.tags .tag")].some(t => t.textContent.startsWith("blue"))`, 10*time.Second)
	e.Do("GET", "/api/v1/sessions/"+s.ID, tok, nil).Want(t, 200).Decode(t, &cur)
	if !slices.Contains(cur.Tags, "blue") || !slices.Contains(cur.Tags, "changed-elsewhere") {
		t.Fatalf("tags after adding from the page: %v", cur.Tags)
	}
	alice.clickText("Remove tag changed-elsewhere")
	alice.wait("the tag removed", `![...document.querySelectorAll("ul.tags .tag")].some(t => t.textContent.startsWith("changed-elsewhere"))`, 10*time.Second)
	e.Do("GET", "/api/v1/sessions/"+s.ID, tok, nil).Want(t, 200).Decode(t, &cur)
	if !slices.Equal(cur.Tags, []string{"blue"}) {
		t.Fatalf("tags after removing one from the page: %v", cur.Tags)
	}
	// Adding a tag the session has already says so instead of doing nothing.
	alice.typeIn("#tag-add", "blue")
	alice.clickText("Add")
	alice.wait("the duplicate tag refused in words", `[...document.querySelectorAll(".error")].some(e => e.textContent.includes('already has the tag "blue"'))`, 5*time.Second)
	alice.audit("session-tags")

	// A recording of the desktop open in the page: made through the API, then downloaded and
	// deleted from the page.
	alice.clickText("Open desktop")
	alice.wait("the desktop connected", `document.querySelector("section.desktop")?.dataset.viewer === "connected"`, 45*time.Second)
	p := "/api/v1/sessions/" + s.ID + "/recordings"
	var created struct{ Recording gatewayRecording }
	e.Do("POST", p, tok, map[string]any{"source": "gateway"}).Want(t, 201).Decode(t, &created)
	id := created.Recording.ID
	waitUntil(t, 10*time.Second, "a gateway takes the recording", func() bool {
		r, err := e.App.RecordingStore().Get(context.Background(), s.ID, id)
		return err == nil && r.Upload != nil && r.Recorder != ""
	})
	time.Sleep(2 * time.Second)
	e.Do("PATCH", p+"/"+id, tok, map[string]any{"status": "completed"}).Want(t, 202)
	rec, _ := finished(t, e, tok, s.ID, id)
	if rec.Status != "completed" || rec.SizeBytes <= 0 {
		t.Fatalf("the recording: %+v", rec)
	}
	alice.run("reload", reload())
	alice.wait("the recording listed", fmt.Sprintf(`!!document.querySelector('[aria-label="Download recording %s"]:not([disabled])')`, id), 10*time.Second)
	alice.audit("session-recordings")
	// The page starts the download with a link click; record the link, then fetch what it names.
	alice.js(`window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push({href: this.href, name: this.download}); }; ""`)
	alice.clickText("Download recording " + id)
	alice.wait("the download started", `window.__downloads.length === 1`, 10*time.Second)
	alice.run("fetch the download", chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[string](`fetch(window.__downloads[0].href).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest("SHA-256", b))
			.then(d => { window.__sha = [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, "0")).join(""); return ""; })`, chromedp.EvalAwaitPromise)(ctx, tg)
		return chromedp.Void{}, err
	}))
	if sha, name := alice.js(`window.__sha`), alice.js(`window.__downloads[0].name`); sha != rec.SHA256 || name != id+".rfb" {
		t.Fatalf("the download: %s named %q, want the recording's %s as %s.rfb", sha, name, rec.SHA256, id)
	}
	// Deleting cannot be undone, so the page asks first: declined, nothing happens; accepted, it goes.
	alice.js(`window.confirm = () => false; ""`)
	alice.clickText("Delete recording " + id)
	time.Sleep(300 * time.Millisecond)
	e.Do("GET", p+"/"+id, tok, nil).Want(t, 200)
	alice.js(`window.confirm = () => true; ""`)
	alice.clickText("Delete recording " + id)
	alice.wait("the recording gone from the page", `document.body.innerText.includes("No recordings.")`, 10*time.Second)
	e.Do("GET", p+"/"+id, tok, nil).Want(t, 404)
}

// choose picks a value in a select as a person would (the change event the page listens to).
func (p *page) choose(sel, value string) {
	p.t.Helper()
	p.js(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); return ""; })()`, sel, value))
}

// Roles from the page: a team owner changes a member's role (If-Match on the member's version),
// and an admin changes a user's platform role; both land in the API.
func TestConsoleChangeRoles(t *testing.T) {
	e := testenv.Start(t)
	owner, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	var team struct{ ID string }
	e.Do("POST", "/api/v1/teams", owner, map[string]any{"name": "ops"}).Want(t, 201).Decode(t, &team)
	e.Do("POST", "/api/v1/teams/"+team.ID+"/members", owner, map[string]any{"userId": "bob", "role": "member"}).Want(t, 201)

	alice := consolePage(t, e, "alice")
	alice.visit("/teams/" + team.ID)
	alice.signIn("alice", "user")
	alice.wait("bob's role select", `document.querySelector('select[aria-label="Role of bob"]')?.value === "member"`, 10*time.Second)
	alice.choose(`select[aria-label="Role of bob"]`, "viewer")
	waitUntil(t, 10*time.Second, "bob a viewer in the API", func() bool {
		var p struct{ Role string }
		e.Do("GET", "/api/v1/teams/"+team.ID+"/my-permissions", bob, nil).Want(t, 200).Decode(t, &p)
		return p.Role == "viewer"
	})
	alice.wait("the page shows it after reloading the members", `document.querySelector('select[aria-label="Role of bob"]')?.value === "viewer"`, 10*time.Second)
	if msg := alice.js(`document.querySelector("main .error")?.innerText || ""`); msg != "" {
		t.Fatalf("the role change showed an error: %q", msg)
	}

	root := consolePage(t, e, "root")
	root.visit("/admin")
	root.signIn("root", "admin")
	root.wait("bob in the users", `document.querySelector('select[aria-label="Role of bob"]')?.value === "user"`, 15*time.Second)
	root.choose(`select[aria-label="Role of bob"]`, "operator")
	waitUntil(t, 10*time.Second, "bob an operator in the API", func() bool {
		var me struct{ Role string }
		e.Do("GET", "/api/v1/users/me", bob, nil).Want(t, 200).Decode(t, &me)
		return me.Role == "operator"
	})
	root.wait("the page shows it", `document.querySelector('select[aria-label="Role of bob"]')?.value === "operator"`, 10*time.Second)
	root.audit("admin-roles")
}

// typeInViewer clicks the console's embedded desktop where the xterm is (200, 100 in the
// desktop's own pixels, as typeInto does on the viewer page, scaled to the canvas shown) and types.
func (p *page) typeInViewer(text string) {
	p.t.Helper()
	xy := p.js(`(() => { const f = document.querySelector("iframe.viewer"); f.scrollIntoView({block: "center"});
		const c = f.contentDocument.querySelector("#screen canvas"), fr = f.getBoundingClientRect(), cr = c.getBoundingClientRect();
		const k = cr.width / c.width;
		return Math.round(fr.left + cr.left + 200 * k) + " " + Math.round(fr.top + cr.top + 100 * k); })()`)
	var x, y float64
	if _, err := fmt.Sscan(xy, &x, &y); err != nil {
		p.t.Fatalf("the desktop's position %q: %v", xy, err)
	}
	p.run("click the desktop", chromedp.MouseClickXY(x, y))
	p.run("type", chromedp.KeyEvent(text))
}

// A view share through the console, with the terminal's xterm: bob's keys do not reach the
// desktop even when his page is tampered to send them (no file appears), alice's do.
func TestConsoleViewShareInputDropped(t *testing.T) {
	e := startLocal(t)
	tok, bobTok := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bobTok)
	s := runningTerminal(t, e, tok, nil)
	home := e.Runtime.Home(rtSpec(s.ID, "alice"))
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", tok, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)

	bob := consolePage(t, e, "bob")
	bob.visit("/shared")
	bob.signIn("bob", "user")
	bob.wait("the shared session", fmt.Sprintf(`!!document.querySelector('tr[data-session=%q] a')`, s.ID), 10*time.Second)
	bob.click(fmt.Sprintf(`tr[data-session=%q] a`, s.ID))
	bob.clickText("Open desktop")
	bob.wait("bob's desktop connected", `document.querySelector("section.desktop")?.dataset.viewer === "connected"`, 45*time.Second)
	if v := bob.js(`String(document.querySelector("iframe.viewer").contentWindow.streamspace.rfb.viewOnly)`); v != "true" {
		t.Fatalf("bob's viewer starts with viewOnly %s", v)
	}
	bob.js(`document.querySelector("iframe.viewer").contentWindow.streamspace.rfb.viewOnly = false; ""`)
	bobFile, aliceFile := "bob-was-here", fmt.Sprintf("alice-was-here-%d", time.Now().UnixNano())
	bob.typeInViewer("touch " + bobFile + "\n")
	// His keys went to noVNC (its canvas had the focus), which sent them: the gateway drops them.
	if in := bob.js(`String(!!document.querySelector("iframe.viewer").contentDocument.activeElement?.closest("#screen"))`); in != "true" {
		t.Fatalf("bob's keys did not go to the desktop's canvas (focus in #screen: %s): the check would prove nothing", in)
	}

	alice := consolePage(t, e, "alice")
	alice.visit("/sessions/" + s.ID)
	alice.signIn("alice", "user")
	alice.clickText("Open desktop")
	alice.wait("alice's desktop connected", `document.querySelector("section.desktop")?.dataset.viewer === "connected"`, 45*time.Second)
	alice.typeInViewer("touch " + aliceFile + "\n")
	waitUntil(t, 15*time.Second, "alice's keys, typed in the console, created her file", func() bool {
		_, err := os.Stat(filepath.Join(home, aliceFile))
		return err == nil
	})
	// bob typed first: had his keys reached the shell, his file would exist by now.
	if _, err := os.Stat(filepath.Join(home, bobFile)); err == nil {
		t.Fatal("a view user's keys, typed in the console, reached the desktop")
	}
	if st := bob.js(`document.querySelector("section.desktop")?.dataset.viewer`); st != "connected" {
		t.Fatalf("bob's viewer after typing: %q, want still connected", st)
	}
}
