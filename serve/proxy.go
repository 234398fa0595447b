package serve

import (
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// newProxy returns a reverse proxy to a plain-HTTP upstream. It sets
// X-Forwarded-For, -Host and -Proto, passes WebSocket upgrades through
// (httputil.ReverseProxy switches protocols itself) and flushes at once, so
// event streams and hot-reload channels of the upstream are not delayed.
func newProxy(target *url.URL, logger *log.Logger) (http.Handler, error) {
	if target.Scheme != "http" && target.Scheme != "https" {
		return nil, fmt.Errorf("proxy upstream %q: the scheme must be http or https", target.Redacted())
	}
	if target.Host == "" {
		return nil, fmt.Errorf("proxy upstream %q: no host", target.Redacted())
	}
	shown := target.Redacted()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		FlushInterval: -1,
		ErrorLog:      logger,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Printf("devca serve: proxy %s %s to %s: %v", r.Method, r.URL.EscapedPath(), shown, err)
			badGateway(w, r, shown)
		},
	}
	return rp, nil
}

var badGatewayPage = template.Must(template.New("502").Parse(`<!doctype html>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>502 upstream not answering</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{font-size:.95em}</style>
<h1>The development server is not answering</h1>
<p>devca forwards this site to <code>{{.}}</code>, and nothing answered there.</p>
<p>Start the development server (or check the port it uses), then reload this page.</p>
`))

// badGateway writes the 502 page. It names the upstream the user configured
// but never the error, which may hold internal addresses or paths.
func badGateway(w http.ResponseWriter, r *http.Request, upstream string) {
	hdr := w.Header()
	hdr.Del("Content-Length")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	if r.Method != http.MethodHead {
		badGatewayPage.Execute(w, upstream)
	}
}
