// Command echo is the service behind the proxy benchmark: every GET gets
// the same small page, and a WebSocket upgrade on any path echoes frames.
// Built static, it is the only file of the image zoe/bench-echo; run on the
// host, it is the bare net/http ceiling the portal figures are compared
// with.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/zoe-analytics/zoe/bench/load"
)

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	size := flag.Int("size", 1024, "bytes of the page every GET gets")
	flag.Parse()
	page := bytes.Repeat([]byte("z"), *size)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			load.EchoWS(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(page)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
