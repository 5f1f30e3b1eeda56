package shop

import (
	"strings"
	"testing"
)

func TestReadmeSanitised(t *testing.T) {
	src := "Intro with <b>bold</b> and a [link](javascript:alert(1)).\n\n" +
		"<script>alert('x')</script>\n\n" +
		"<img src=x onerror=alert(1)>\n\n" +
		"[ok](https://example.org) and [data](data:text/html;base64,PHNjcmlwdD4=)\n\n" +
		"| a | b |\n|---|---|\n| 1 | 2 |\n"
	html, sum, err := renderReadme(newMarkdown(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "javascript:", "onerror", "<b>", "data:text/html"} {
		if strings.Contains(strings.ToLower(string(html)), bad) {
			t.Errorf("rendered readme contains %q:\n%s", bad, html)
		}
	}
	for _, good := range []string{`<a href="https://example.org">ok</a>`, "<table>", "<td>2</td>"} {
		if !strings.Contains(string(html), good) {
			t.Errorf("rendered readme lacks %q:\n%s", good, html)
		}
	}
	if want := "Intro with bold and a link."; sum != want {
		t.Errorf("got summary %q, want %q", sum, want)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"heading skipped", "# Title\n\nFirst *para*\ngraph `code`.\n\nSecond.", "First para graph code."},
		{"empty", "", ""},
		{"only a heading", "# Title\n", ""},
		{"long", strings.Repeat("word ", 100), strings.TrimSpace(strings.Repeat("word ", 60))[:summaryMax-1] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := renderReadme(newMarkdown(), []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
