package handlers

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

	"github.com/zoe-analytics/zoe/store"
)

// chromiumPath is Debian's Chromium, which `make test` installs.
const chromiumPath = "/usr/bin/chromium"

// browserOutput is where the browser tests leave their screenshots.
func browserOutput(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ZOE_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "zoe-portal-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium tab on a portalEnv.
type browser struct {
	t   *testing.T
	e   *portalEnv
	ctx context.Context
	out string
}

func newBrowser(t *testing.T, e *portalEnv) *browser {
	t.Helper()
	return newBrowserFor(t, e, 4*time.Minute)
}

// newBrowserFor is newBrowser whose whole session may last limit: longer
// for tests that wait for a real application to start on a busy machine.
func newBrowserFor(t *testing.T, e *portalEnv, limit time.Duration) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium not found at %s (%v): run `make test`, which installs it", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, limit)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, e: e, ctx: ctx, out: browserOutput(t)}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// text is the text of the first element sel matches, "" if none.
func (b *browser) text(sel string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	return strings.TrimSpace(eval[string](b, fmt.Sprintf(`(document.querySelector(%s)||{textContent:""}).textContent`, q)))
}

// waitText waits until the text of sel contains want.
func (b *browser) waitText(sel, want string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := b.text(sel)
		if strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			b.shot("failed-wait")
			b.t.Fatalf("%s: got %q, want %q in it", sel, got, want)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func (b *browser) shot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(b.out, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

func (b *browser) signIn(name string) {
	b.t.Helper()
	b.do("sign in as "+name,
		chromedp.Navigate(b.e.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=username]")),
		chromedp.SendKeys(chromedp.CSS("[data-testid=username]"), name),
		chromedp.SendKeys(chromedp.CSS("[data-testid=password]"), portalPassword),
		chromedp.Click(chromedp.CSS("[data-testid=sign-in]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=account-link]")),
	)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out",
		chromedp.Click(chromedp.CSS("[data-testid=logout]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=login-form]")),
	)
}

// TestBrowserPortal drives the portal in Chromium: a user tunes the start
// form and is refused past the quota, a guest starts a ZApp and watches it
// become running without reloading and opens it, and an admin terminates
// it.
func TestBrowserPortal(t *testing.T) {
	e := newPortalEnv(t)
	ctx := context.Background()
	q := store.Quota{Name: "tight", Memory: 192 << 20}
	if _, err := e.st.CreateQuota(ctx, &q); err != nil {
		t.Fatal(err)
	}
	alice := e.users["alice"]
	alice.QuotaID = &q.ID
	if err := e.st.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)

	t.Run("user tunes the start form", func(t *testing.T) {
		b.t = t
		b.signIn("alice")
		b.do("open the shop", chromedp.WaitVisible(chromedp.CSS("[data-zapp=web-0]")))
		if n := eval[int](b, `document.querySelectorAll("[data-testid=zapp-tile]").length`); n != 2 {
			t.Errorf("tiles: got %d, want 2", n)
		}
		b.shot("shop")

		b.do("open the ZApp",
			chromedp.Click(chromedp.CSS("[data-zapp=web-0]")),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=start-form]")),
		)
		if got := b.text("#mem-web"); got != "32 MiB" {
			t.Errorf("memory shown: got %q, want 32 MiB", got)
		}
		b.waitText("#fit", "It reserves 32 MiB", 5*time.Second)
		// Twelve steps of 8 MiB with the keyboard, as a person would.
		b.do("move the memory slider", chromedp.Focus(chromedp.CSS("[data-testid=memory-web]")))
		for range 12 {
			b.do("press right", chromedp.KeyEvent(kb.ArrowRight))
		}
		if got := b.text("#mem-web"); got != "128 MiB" {
			t.Errorf("memory shown after moving: got %q, want 128 MiB", got)
		}
		b.waitText("#fit", "It reserves 128 MiB", 10*time.Second)
		if got := eval[string](b, `document.getElementById("fit").dataset.state`); got != "fits" {
			t.Errorf("fit state: got %q, want fits", got)
		}
		b.shot("start-form")

		b.do("push past the quota", chromedp.KeyEvent(kb.End))
		if got := b.text("#mem-web"); got != "256 MiB" {
			t.Errorf("memory at the end: got %q, want 256 MiB", got)
		}
		b.waitText("#fit", "Over your quota", 10*time.Second)
		b.do("submit past the quota",
			chromedp.Click(chromedp.CSS("[data-testid=start]")),
			chromedp.WaitVisible(chromedp.CSS("#mem-web-error")),
		)
		if got := b.text("#mem-web-error"); !strings.Contains(got, "memory quota exceeded") {
			t.Errorf("error beside the memory slider: got %q", got)
		}
		if got := b.text("#mem-web"); got != "256 MiB" {
			t.Errorf("value kept after the refusal: got %q", got)
		}
		b.shot("start-form-refused")
		b.signOut()
	})

	var execURL string
	t.Run("guest starts and watches it run", func(t *testing.T) {
		b.t = t
		b.signIn("gus")
		b.do("open the ZApp",
			chromedp.Navigate(e.ts.URL+"/shop/web-0"),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=start-form]")),
		)
		if n := eval[int](b, `document.querySelectorAll("input[type=range]").length`); n != 0 {
			t.Errorf("guest sees %d sliders", n)
		}
		b.do("start",
			chromedp.SendKeys(chromedp.CSS("[data-testid=field-name]"), "guest run"),
			chromedp.Click(chromedp.CSS("[data-testid=start]")),
			chromedp.WaitVisible(chromedp.CSS("#execution-status")),
		)
		execURL = eval[string](b, `location.pathname`)
		// A mark on the window survives only if the page is never reloaded.
		eval[bool](b, `window.zoeMark = true`)
		b.waitText("#execution-status [data-testid=status]", "running", 60*time.Second)
		b.waitText("#execution-status", "Open Web", 30*time.Second)
		if !eval[bool](b, `window.zoeMark === true`) {
			t.Errorf("the page was reloaded to show the new status")
		}
		b.shot("execution-running")
		href := eval[string](b, `document.querySelector("[data-testid=endpoint]").getAttribute("href")`)
		b.do("open the service",
			chromedp.Navigate(e.ts.URL+href),
			chromedp.WaitReady(chromedp.CSS("body")),
		)
		if got := b.text("body"); got != "ok" {
			t.Errorf("service page: got %q, want the busybox httpd's ok", got)
		}
		b.do("back", chromedp.Navigate(e.ts.URL+"/executions"), chromedp.WaitVisible(chromedp.CSS("[data-testid=logout]")))
		b.signOut()
	})

	t.Run("admin terminates it", func(t *testing.T) {
		b.t = t
		if execURL == "" {
			t.Fatal("no execution from the guest")
		}
		b.signIn("admin")
		b.do("open the execution",
			chromedp.Navigate(e.ts.URL+execURL),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=terminate]")),
		)
		if got := b.text("[data-testid=owner]"); got != "gus" {
			t.Errorf("owner: got %q", got)
		}
		b.do("terminate, confirming",
			chromedp.Click(chromedp.CSS("[data-testid=terminate]")),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=terminate-yes]")),
			chromedp.Click(chromedp.CSS("[data-testid=terminate-yes]")),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=flash]")),
		)
		eval[bool](b, `window.zoeMark = true`)
		b.waitText("#execution-status [data-testid=status]", "terminated", 60*time.Second)
		if !eval[bool](b, `window.zoeMark === true`) {
			t.Errorf("the page was reloaded to show the end")
		}
		if eval[bool](b, `document.getElementById("execution-status").hasAttribute("hx-trigger")`) {
			t.Errorf("the ended execution still polls")
		}
		b.shot("execution-terminated")
		b.do("platform page", chromedp.Navigate(e.ts.URL+"/admin/status"), chromedp.WaitVisible(chromedp.CSS("[data-host=h1]")))
		b.shot("platform")
	})
}
