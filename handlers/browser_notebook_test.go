package handlers

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zoe-analytics/zoe/backend/docker"
)

// sampleShopZApps is how many ZApps the sample shop offers admins.
const sampleShopZApps = 5

// TestBrowserNotebook is the guest's whole journey with the real sample
// notebook, in Chromium: sign in, start Jupyter from the shop with the
// defaults, watch it become running without reloading, open it through
// Zoe's proxy, and run a cell over the kernel's WebSocket. It needs the
// image zoe/jupyter:6.4 (scripts/images.sh) and fails without it.
func TestBrowserNotebook(t *testing.T) {
	requireImage(t, "zoe/jupyter:6.4")
	e := newPortalEnvShop(t, "../shop/sample", sampleShopZApps)
	// Jupyter starts a Python server and a kernel: under a loaded test run
	// that alone can take minutes, so the browser gets longer than usual.
	b := newBrowserFor(t, e, 10*time.Minute)
	b.signIn("gus")
	b.do("open the notebook's page",
		chromedp.Navigate(e.ts.URL+"/shop"),
		chromedp.WaitVisible(chromedp.CSS("[data-zapp=jupyter-0]")),
		chromedp.Click(chromedp.CSS("[data-zapp=jupyter-0]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=start-form]")),
	)
	b.do("start it",
		chromedp.SendKeys(chromedp.CSS("[data-testid=field-name]"), "my notebook"),
		chromedp.Click(chromedp.CSS("[data-testid=start]")),
		chromedp.WaitVisible(chromedp.CSS("#execution-status")),
	)
	eval[bool](b, `window.zoeMark = true`)
	b.waitText("#execution-status [data-testid=status]", "running", 3*time.Minute)
	b.waitText("#execution-status", "Open Jupyter Notebook", 2*time.Minute)
	if !eval[bool](b, `window.zoeMark === true`) {
		t.Errorf("the page was reloaded to show the new status")
	}
	b.shot("notebook-running")

	href := eval[string](b, `document.querySelector("[data-testid=endpoint]").getAttribute("href")`)
	if !strings.HasPrefix(href, "/proxy/") {
		t.Fatalf("endpoint %q does not go through Zoe's proxy", href)
	}
	b.do("open Jupyter",
		chromedp.Navigate(e.ts.URL+href),
		chromedp.WaitVisible(chromedp.CSS("#notebook_list")),
	)
	b.shot("notebook-tree")

	// A new notebook through Jupyter's own REST API, from its page, as its
	// "New" menu does.
	path, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(async () => {
		const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || "";
		const r = await fetch(document.body.dataset.baseUrl + "api/contents", {
			method: "POST", headers: {"X-XSRFToken": decodeURIComponent(xsrf), "Content-Type": "application/json"},
			body: JSON.stringify({type: "notebook"})});
		if (!r.ok) throw new Error("create notebook: " + r.status);
		return (await r.json()).path;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || path == "" {
		t.Fatalf("Jupyter created no notebook (%q): %v", path, err)
	}
	b.do("open the notebook",
		chromedp.Navigate(e.ts.URL+strings.TrimSuffix(href, "tree")+"notebooks/"+path),
		chromedp.WaitVisible(chromedp.CSS(".cell")),
	)
	deadline := time.Now().Add(2 * time.Minute)
	for !eval[bool](b, `!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())`) {
		if time.Now().After(deadline) {
			b.shot("failed-kernel")
			t.Fatal("the kernel never connected through the proxy")
		}
		time.Sleep(250 * time.Millisecond)
	}
	eval[bool](b, `(() => { const c = Jupyter.notebook.get_cell(0); c.set_text("print(6 * 7)"); c.execute(); return true; })()`)
	b.waitText(".output_area pre", "42", 2*time.Minute)
	b.shot("notebook-cell")
}

// requireImage fails the test when image is not on the first test engine.
func requireImage(t *testing.T, image string) {
	t.Helper()
	be, err := docker.New([]docker.HostConfig{{Name: "h1", Address: os.Getenv("ZOE_TEST_DOCKER_HOST")}}, docker.Options{Deployment: "image-check"})
	if err != nil {
		t.Fatal(err)
	}
	host := be.Check(context.Background())[0]
	if !host.Online {
		t.Fatalf("the test engine is offline: %s", host.Err)
	}
	if !slices.Contains(host.Images, image) {
		t.Fatalf("image %s is missing on the test engine: build it with scripts/images.sh (make images)", image)
	}
}
