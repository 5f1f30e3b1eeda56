package shop

import (
	"bytes"
	"html/template"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// summaryMax bounds the tile text taken from a readme's first paragraph.
const summaryMax = 300

// newMarkdown returns the readme renderer: CommonMark plus GitHub tables,
// strikethrough, task lists and autolinks. Raw HTML is left out (goldmark's
// default, as html.WithUnsafe is not set) and links such as javascript: are
// dropped, so a readme cannot put script into the portal.
func newMarkdown() goldmark.Markdown {
	return goldmark.New(goldmark.WithExtensions(extension.GFM))
}

// renderReadme returns the readme as HTML and the plain text of its first
// paragraph, for the shop tile.
func renderReadme(md goldmark.Markdown, src []byte) (template.HTML, string, error) {
	doc := md.Parser().Parse(text.NewReader(src))
	var buf bytes.Buffer
	if err := md.Renderer().Render(&buf, src, doc); err != nil {
		return "", "", err
	}
	// The renderer never emits raw HTML from the source (see newMarkdown),
	// which is what makes this conversion safe.
	return template.HTML(buf.String()), summary(doc, src), nil
}

// summary is the plain text of the first paragraph of doc.
func summary(doc ast.Node, src []byte) string {
	var para ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && n.Kind() == ast.KindParagraph {
			para = n
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	if para == nil {
		return ""
	}
	var b strings.Builder
	_ = ast.Walk(para, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := n.(type) {
		case *ast.Text:
			b.Write(t.Value(src))
			if t.SoftLineBreak() || t.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	s := strings.Join(strings.Fields(b.String()), " ")
	if r := []rune(s); len(r) > summaryMax {
		s = strings.TrimSpace(string(r[:summaryMax-1])) + "…"
	}
	return s
}
