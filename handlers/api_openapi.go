package handlers

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every /api/v1 route; TestAPIOpenAPIRoutes
// fails when it and the route table disagree.
//
//go:embed openapi.json
var openAPIDocument []byte

// apiOpenAPI serves the document publicly, so that tools can read it
// before they have a token.
func (s *Server) apiOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(openAPIDocument)
}
