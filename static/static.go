// Package static holds the portal's assets, embedded in the zoe binary so
// that running Zoe needs neither npm nor files beside the binary.
package static

import "embed"

// FS holds app.css, the vendored htmx and Pico CSS (vendor/, refreshed by
// scripts/assets.sh from the versions package.json pins) and images.
//
//go:embed app.css app.js vendor/*.js vendor/*.css favicon.svg
var FS embed.FS
