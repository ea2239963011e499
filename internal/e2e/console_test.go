package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"streamspace/internal/local/console"
	"streamspace/internal/testenv"
)

// page is one person's browser on the console (a profile of its own), with the few steps the
// console tests take: visit, click, type, wait for something to be true, audit.
type page struct {
	t    testing.TB
	ctx  context.Context
	base string
	name string
}

func consolePage(t testing.TB, e *testenv.Env, name string) *page {
	t.Helper()
	if _, err := os.Stat(filepath.Join(console.DefaultDir(), "index.html")); err != nil {
		t.Fatal(console.ErrNotBuilt)
	}
	return &page{t: t, ctx: browser(t), base: e.HTTPURL, name: name}
}

func (p *page) run(what string, a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, a); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
		p.t.Fatalf("%s: %s: %v\npage: %s", p.name, what, err, text)
	}
}

func (p *page) visit(path string) { p.t.Helper(); p.run("visit "+path, chromedp.Navigate(p.base+path)) }
func (p *page) click(sel string) {
	p.t.Helper()
	p.run("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}
func (p *page) typeIn(sel, text string) {
	p.t.Helper()
	p.run("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// wait polls a JavaScript condition.
func (p *page) wait(what, cond string, within time.Duration) {
	p.t.Helper()
	p.run(what, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(50*time.Millisecond))(ctx, tg)
		return chromedp.Void{}, err
	}))
}

func (p *page) js(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return v
}

// clickText clicks the button or link whose accessible name (aria-label or text) is name.
func (p *page) clickText(name string) {
	p.t.Helper()
	sel := fmt.Sprintf(`[aria-label=%q]`, name)
	if p.js(fmt.Sprintf(`document.querySelector(%q) ? "y" : ""`, sel)) == "" {
		id := "click-" + strings.NewReplacer(" ", "-", "'", "", "…", "").Replace(strings.ToLower(name))
		p.wait("find "+name, fmt.Sprintf(`(() => { const b = [...document.querySelectorAll("button, a")].find(b => b.textContent.trim() === %q);
			if (b) b.id = %q; return !!b; })()`, name, id), 10*time.Second)
		sel = "#" + id
	}
	p.click(sel)
}

// signIn uses the local sign-in page with the keyboard only: type the name, Tab to the role,
// pick it with the arrow keys, Enter submits.
func (p *page) signIn(user, role string) {
	p.t.Helper()
	p.wait("the sign-in page", `!!document.getElementById("signin-user")`, 15*time.Second)
	p.typeIn("#signin-user", user)
	p.run("tab", chromedp.KeyEvent(kb.Tab))
	for range map[string]int{"user": 0, "operator": 1, "admin": 2}[role] {
		p.run("arrow", chromedp.KeyEvent(kb.ArrowDown))
	}
	p.typeIn("#signin-user", kb.Enter)
	p.wait("signed in", fmt.Sprintf(`(document.querySelector(".who") || {}).textContent?.includes(%q)`, user), 15*time.Second)
	if p.js(`String(document.body.innerText.includes("Loading StreamSpace"))`) == "true" {
		p.t.Fatal(`the page still shows "Loading StreamSpace…" under the console`)
	}
	// Keyboard and screen-reader users land on the page's heading once signed in.
	p.wait("focus on the page's heading", `document.activeElement?.id === "page-title"`, 5*time.Second)
}

// audit runs axe-core (npm, from the console's lockfile) on the page as it is now: no serious
// or critical violation is allowed on any screen.
func (p *page) audit(screen string) {
	p.t.Helper()
	if p.js(`typeof axe`) != "object" {
		src, err := os.ReadFile(filepath.Join(repoRoot(p.t), "console", "node_modules", "axe-core", "axe.min.js"))
		if err != nil {
			p.t.Fatalf("axe-core is needed (make console installs it): %v", err)
		}
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
			p.t.Fatal(err)
		}
	}
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
		 .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map(n => n.target.join(" "))}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("axe on %s: %v", screen, err)
	}
	var v []map[string]any
	_ = json.Unmarshal([]byte(out), &v)
	if len(v) > 0 {
		shot, _ := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		p.t.Errorf("accessibility audit of %s: %d serious or critical violations: %s (page: %s)", screen, len(v), out, saveShot(p.t, "console-axe-"+screen, shot))
	}
	// Phone width: nothing may need sideways scrolling.
	p.run("phone width", chromedp.EmulateViewport(390, 800))
	wide := p.js(`String(document.documentElement.scrollWidth > innerWidth + 1 ? document.documentElement.scrollWidth : "")`)
	p.run("desktop width", chromedp.EmulateViewport(1280, 800))
	if wide != "" {
		p.t.Errorf("%s at phone width (390 px) is %s px wide", screen, wide)
	}
}

func repoRoot(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = filepath.Dir(dir)
	}
}

func reload() chromedp.Action[chromedp.Void] { return chromedp.Reload() }
