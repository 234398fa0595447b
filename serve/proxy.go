package serve

import (
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

// newProxy returns a reverse proxy to a plain-HTTP upstream. It sets
// X-Forwarded-For, -Host and -Proto, passes WebSocket upgrades through
// (httputil.ReverseProxy switches protocols itself) and flushes at once, so
// event streams and hot-reload channels of the upstream are not delayed.
// modify adjusts each upstream response's headers before they are sent.
func newProxy(target *url.URL, logger *log.Logger, modify func(http.Header)) (http.Handler, error) {
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
		ModifyResponse: func(res *http.Response) error {
			modify(res.Header)
			return nil
		},
		ErrorLog: logger,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Printf("proxying %s %s to %s: %v", r.Method, r.URL.EscapedPath(), shown, err)
			badGateway(w, r, shown)
		},
	}
	return rp, nil
}

var badGatewayPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("502").Parse(`<!doctype html>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>502 upstream not answering</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{font-size:.95em}</style>
<h1>The development server is not answering</h1>
<p>devca forwards this site to <code>{{.}}</code>, and nothing answered there.</p>
<p>Start the development server (or check the port it uses), then reload this page.</p>
`))
})

// forward sends a request to the upstream. The headers ServeHTTP set for
// files are taken back first: the upstream decides its own caching (dev
// servers cache hashed assets on purpose), and copying its headers onto ours
// would send two Access-Control-Allow-Origin values, which browsers reject.
// proxyHeaders then adds what is missing.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for _, k := range []string{"Cache-Control", "X-Content-Type-Options", "Access-Control-Allow-Origin"} {
		hdr.Del(k)
	}
	for k := range h.headers {
		hdr.Del(k)
	}
	h.proxy.ServeHTTP(w, r)
}

// proxyHeaders completes an upstream response's headers: CORS when asked
// for and the upstream set none, nosniff unless the upstream said otherwise,
// and the configured headers, which win.
func (h *Handler) proxyHeaders(hdr http.Header) {
	if h.cfg.CORS && hdr.Get("Access-Control-Allow-Origin") == "" {
		hdr.Set("Access-Control-Allow-Origin", "*")
	}
	if hdr.Get("X-Content-Type-Options") == "" {
		hdr.Set("X-Content-Type-Options", "nosniff")
	}
	h.applyHeaders(hdr)
}

// badGateway writes the 502 page. It names the upstream the user configured
// but never the error, which may hold internal addresses or paths.
func badGateway(w http.ResponseWriter, r *http.Request, upstream string) {
	hdr := w.Header()
	hdr.Del("Content-Length")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	if r.Method != http.MethodHead {
		badGatewayPage().Execute(w, upstream)
	}
}
