package serve

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// HopHeader is the request header through which a devca proxy recognises
// its own requests coming back to it. Each proxy adds a random id of its
// own to every request it forwards, and answers 508 Loop Detected to a
// request that already carries its id, so an upstream that leads back to
// devca (directly, or through other proxies) costs one round trip instead
// of growing without end. Other ids pass through, so chains of devca
// servers still work.
const HopHeader = "Devca-Hop"

// proxy forwards requests to a plain-HTTP (or HTTPS) upstream.
type proxy struct {
	rp     *httputil.ReverseProxy
	hop    string // this proxy's id in HopHeader
	shown  string // the upstream as pages and logs name it
	logger *log.Logger
}

// newProxy returns a reverse proxy to a plain-HTTP upstream. It sets
// X-Forwarded-For, -Host and -Proto, passes WebSocket upgrades through
// (httputil.ReverseProxy switches protocols itself) and flushes at once, so
// event streams and hot-reload channels of the upstream are not delayed.
// modify adjusts each upstream response's headers before they are sent.
func newProxy(target *url.URL, logger *log.Logger, modify func(http.Header)) (*proxy, error) {
	if target.Scheme != "http" && target.Scheme != "https" {
		return nil, fmt.Errorf("proxy upstream %q: the scheme must be http or https", target.Redacted())
	}
	if target.Host == "" {
		return nil, fmt.Errorf("proxy upstream %q: no host", target.Redacted())
	}
	p := &proxy{hop: rand.Text(), shown: UpstreamDisplay(target), logger: logger}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Add(HopHeader, p.hop)
		},
		FlushInterval: -1,
		ModifyResponse: func(res *http.Response) error {
			modify(res.Header)
			return nil
		},
		ErrorLog: logger,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Printf("proxying %s %s to %s: %v", r.Method, r.URL.EscapedPath(), p.shown, err)
			proxyErrorPage(w, r, http.StatusBadGateway, p.shown)
		},
	}
	return p, nil
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.cameBack(r) {
		p.logger.Printf("proxying %s %s to %s: the request came back to this server, so the upstream leads to devca itself (a proxy loop); point the proxy at the development server", r.Method, r.URL.EscapedPath(), p.shown)
		proxyErrorPage(w, r, http.StatusLoopDetected, p.shown)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// cameBack reports whether r already went through this proxy.
func (p *proxy) cameBack(r *http.Request) bool {
	for _, v := range r.Header.Values(HopHeader) {
		for id := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(id) == p.hop {
				return true
			}
		}
	}
	return false
}

// UpstreamDisplay is how devca names a proxy upstream to clients: scheme,
// host, port and path. The user name and password are left out, and so is
// the query, which may hold tokens.
func UpstreamDisplay(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(u.Hostname(), upstreamPort(u)), Path: u.Path}).String()
}

// upstreamPort is the port a proxy upstream is reached on.
func upstreamPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

var proxyErrorPages = sync.OnceValue(func() *template.Template {
	t := template.Must(template.New("head").Parse(`<!doctype html>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{font-size:.95em}</style>
`))
	template.Must(t.New("502").Parse(`{{template "head"}}<title>502 upstream not answering</title>
<h1>The development server is not answering</h1>
<p>devca forwards this site to <code>{{.}}</code>, and nothing answered there.</p>
<p>Start the development server (or check the port it uses), then reload this page.</p>
`))
	template.Must(t.New("508").Parse(`{{template "head"}}<title>508 proxy loop</title>
<h1>The proxy leads back to devca</h1>
<p>devca forwards this site to <code>{{.}}</code>, and the request came back to devca itself, so it was stopped.</p>
<p>Point the proxy at the development server's own port, then reload this page.</p>
`))
	return t
})

// proxyErrorPage writes the 502 or 508 page. It names the upstream the user
// configured but never the error, which may hold internal addresses or
// paths.
func proxyErrorPage(w http.ResponseWriter, r *http.Request, status int, upstream string) {
	hdr := w.Header()
	hdr.Del("Content-Length")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		proxyErrorPages().ExecuteTemplate(w, strconv.Itoa(status), upstream)
	}
}

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

// ErrProxyLoop is returned by [CheckUpstream] for an upstream that is the
// server's own address.
var ErrProxyLoop = errors.New("the upstream is this server's own address, so requests would loop")

// CheckUpstream returns an error wrapping [ErrProxyLoop] when target, a
// proxy upstream, would reach one of the listening addresses: the same
// address and port, a loopback or local address on a listener that covers
// all interfaces (0.0.0.0 or [::]), or an unspecified upstream address
// (which connects to this machine). local lists this machine's addresses;
// the host is resolved with lookup. A host that does not resolve is not an
// error here: the upstream may start later, and the hop header still stops
// a loop at run time.
func CheckUpstream(ctx context.Context, target *url.URL, listening []net.Addr, local []netip.Addr,
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)) error {
	port, err := strconv.ParseUint(upstreamPort(target), 10, 16)
	if err != nil {
		return nil
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(target.Hostname()); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = lookup(ctx, target.Hostname()); err != nil {
		return nil
	}
	var lns []netip.AddrPort
	for _, a := range listening {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			lns = append(lns, ap)
		}
	}
	if ln, ok := loopsTo(ips, uint16(port), lns, local); ok {
		return fmt.Errorf("%w: it listens on %s", ErrProxyLoop, ln)
	}
	return nil
}

// loopsTo returns the listener among lns that a connection to one of ips on
// port would reach.
func loopsTo(ips []netip.Addr, port uint16, lns []netip.AddrPort, local []netip.Addr) (netip.AddrPort, bool) {
	isLocal := func(ip netip.Addr) bool {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, l := range local {
			if l.Unmap().WithZone("") == ip.WithZone("") {
				return true
			}
		}
		return false
	}
	for _, ln := range lns {
		if ln.Port() != port {
			continue
		}
		la := ln.Addr().Unmap()
		for _, ip := range ips {
			ip = ip.Unmap()
			switch {
			case la.IsUnspecified() && isLocal(ip):
				// 0.0.0.0 and [::] answer on every local address (Linux
				// serves IPv4 on [::] too, so the families are not told
				// apart).
				return ln, true
			case ip.IsUnspecified() && isLocal(la):
				// Connecting to 0.0.0.0 or [::] reaches this machine.
				return ln, true
			case ip.WithZone("") == la.WithZone(""):
				return ln, true
			}
		}
	}
	return netip.AddrPort{}, false
}
