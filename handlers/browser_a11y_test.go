package handlers

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// auditJS checks the page it runs in for what a person with a screen
// reader, a keyboard, weak eyes or a phone would trip over, and returns
// one line per problem:
//   - a form control without a label (label[for], a wrapping label,
//     aria-label or aria-labelledby), an image without alt text, a button
//     or link without a name, a page without lang or title;
//   - text whose contrast with its background is under WCAG AA (4.5:1, or
//     3:1 for large text);
//   - anything wider than the viewport (the page scrolls sideways).
const auditJS = `(() => {
	const problems = [];
	const where = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.name ? "[name=" + el.name + "]" : "") + (el.dataset.testid ? "[data-testid=" + el.dataset.testid + "]" : "");
	const visible = el => { const s = getComputedStyle(el); return s.display !== "none" && s.visibility !== "hidden" && el.getClientRects().length > 0; };
	if (!document.documentElement.lang) problems.push("html has no lang");
	if (!document.title.trim()) problems.push("page has no title");
	for (const el of document.querySelectorAll("input, select, textarea")) {
		if (el.type === "hidden" || !visible(el)) continue;
		const named = (el.id && document.querySelector("label[for='" + CSS.escape(el.id) + "']")) || el.closest("label") ||
			(el.getAttribute("aria-label") || "").trim() || el.getAttribute("aria-labelledby");
		if (!named) problems.push("control without a label: " + where(el));
	}
	for (const el of document.querySelectorAll("img")) {
		if (!el.hasAttribute("alt")) problems.push("image without alt: " + (el.getAttribute("src") || where(el)));
	}
	for (const el of document.querySelectorAll("button, a[href], [role=button]")) {
		if (!visible(el)) continue;
		const name = (el.textContent + " " + (el.getAttribute("aria-label") || "") + " " + (el.getAttribute("title") || "") +
			Array.from(el.querySelectorAll("img[alt]")).map(i => i.alt).join(" ")).trim();
		if (!name) problems.push("button or link without a name: " + where(el));
	}
	const rgb = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
	const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
	const background = el => {
		for (let e = el; e; e = e.parentElement) {
			const s = getComputedStyle(e);
			if (s.backgroundImage && s.backgroundImage !== "none") return null; // gradients and images: not judged
			const c = rgb(s.backgroundColor);
			if (c && c.a >= 0.99) return c;
		}
		return {r: 255, g: 255, b: 255, a: 1};
	};
	const seen = new Set();
	for (const el of document.querySelectorAll("body *")) {
		if (!visible(el) || el.closest("[aria-hidden=true]")) continue;
		const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
		if (!own) continue;
		const s = getComputedStyle(el);
		const fg = rgb(s.color), bg = background(el);
		if (!fg || !bg || parseFloat(s.opacity) < 1) continue;
		const a = fg.a;
		const mix = {r: fg.r * a + bg.r * (1 - a), g: fg.g * a + bg.g * (1 - a), b: fg.b * a + bg.b * (1 - a)};
		const l1 = lum(mix), l2 = lum(bg);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
		const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
		if (ratio < need) {
			const key = where(el) + ratio.toFixed(2);
			if (!seen.has(key)) { seen.add(key); problems.push("contrast " + ratio.toFixed(2) + ":1 under " + need + ":1 for " + JSON.stringify(el.textContent.trim().slice(0, 40)) + " in " + where(el)); }
		}
	}
	const width = document.documentElement.clientWidth;
	if (document.documentElement.scrollWidth > width + 1) {
		const wide = Array.from(document.querySelectorAll("body *")).filter(e => visible(e) && e.getBoundingClientRect().right > width + 1);
		problems.push("page wider than the screen (" + document.documentElement.scrollWidth + " > " + width + "): " + wide.slice(0, 3).map(where).join(", "));
	}
	return problems;
})()`

// TestBrowserAccessibility opens every kind of page as each role, on a
// desktop window and on a phone (an iPhone 12's screen), and audits it
// with auditJS. (Keyboard use of the start form is in TestBrowserPortal.)
func TestBrowserAccessibility(t *testing.T) {
	e := newPortalEnv(t)
	alice := e.signIn("alice")
	alice.get("/shop/web-0")
	id := alice.executionID(alice.post("/shop/web-0/start", url.Values{"name": {"a11y"}}))
	e.waitStatus(id, "running")
	b := newBrowser(t, e)

	pages := map[string][]string{
		"":      {"/login"},
		"gus":   {"/", "/shop", "/shop/web-0", "/executions", "/workspace", "/account"},
		"alice": {"/", "/shop", "/shop/web-0", "/executions", fmt.Sprintf("/executions/%d", id), "/workspace", "/account"},
		"admin": {"/", "/executions", "/admin/users", "/admin/quotas", "/admin/usage", "/admin/status"},
	}
	for _, screen := range []struct {
		name  string
		phone bool
	}{{"desktop", false}, {"phone", true}} {
		t.Run(screen.name, func(t *testing.T) {
			b.t = t
			if screen.phone {
				b.do("emulate a phone", chromedp.Emulate(device.IPhone12))
			} else {
				b.do("desktop window", chromedp.EmulateReset())
			}
			for _, who := range []string{"", "gus", "alice", "admin"} {
				if who != "" {
					b.signIn(who)
				}
				for _, path := range pages[who] {
					b.do("open "+path, chromedp.Navigate(e.ts.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
					if problems := eval[[]string](b, auditJS); len(problems) > 0 {
						name := screen.name + "-" + strings.NewReplacer("/", "_").Replace(who+path)
						b.shot("a11y-" + name)
						t.Errorf("%s as %q on a %s:\n  %s", path, who, screen.name, strings.Join(problems, "\n  "))
					}
				}
				if screen.phone && who == "alice" {
					b.do("open the shop", chromedp.Navigate(e.ts.URL+"/shop/web-0"), chromedp.WaitVisible(chromedp.CSS("[data-testid=start-form]")))
					b.shot("phone-start-form")
				}
				if who != "" {
					b.do("sign out", chromedp.Navigate(e.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("[data-testid=logout]")))
					b.signOut()
				}
			}
		})
	}
}
