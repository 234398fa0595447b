package serve

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
)

// RootPage returns a plain-HTTP handler that lets a phone on the LAN fetch
// the root certificate: "/" is a page with install steps for iOS and
// Android, "/devca-root.crt" the certificate in DER form (what both systems
// install from a download) and "/devca-root.pem" in PEM form.
//
// It serves over plain HTTP on purpose: the phone does not trust the root
// yet, so it could not load an HTTPS page. The user compares the fingerprint
// on the page with the one devca printed before trusting the download.
func RootPage(rootPEM []byte, fingerprint string) (http.Handler, error) {
	block, _ := pem.Decode(rootPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("root page: the root is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	der := block.Bytes
	pemBytes := pem.EncodeToMemory(block)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		rootPageTemplate().Execute(w, struct{ Name, Fingerprint string }{cert.Subject.CommonName, fingerprint})
	})
	mux.HandleFunc("GET /devca-root.crt", func(w http.ResponseWriter, r *http.Request) {
		// iOS offers to install a profile only for this type.
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Header().Set("Content-Disposition", `attachment; filename="devca-root.crt"`)
		w.Write(der)
	})
	mux.HandleFunc("GET /devca-root.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Content-Disposition", `attachment; filename="devca-root.pem"`)
		w.Write(pemBytes)
	})
	return mux, nil
}

var rootPageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("root").Funcs(template.FuncMap{
		"groups": func(fp string) string {
			// Break the long fingerprint into lines a person can compare.
			parts := strings.Split(fp, ":")
			var b strings.Builder
			for i, p := range parts {
				if i > 0 {
					if i%8 == 0 {
						b.WriteString("\n")
					} else {
						b.WriteString(":")
					}
				}
				b.WriteString(p)
			}
			return b.String()
		},
	}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Trust the devca root on this device</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,sans-serif;max-width:36rem;margin:0 auto;padding:1rem}
a.button{display:inline-block;padding:.6rem 1rem;border-radius:.4rem;background:#0b5cad;color:#fff;text-decoration:none;margin:.25rem 0}
pre{white-space:pre-wrap;font-size:.85rem;background:rgba(127,127,127,.12);padding:.5rem;border-radius:.3rem}
h2{font-size:1.1rem;margin-top:1.5rem}
</style></head><body>
<h1>Trust the devca root</h1>
<p>This device needs to trust <strong>{{.Name}}</strong> to open the development server without warnings.
Only do this on your own devices, and check that the fingerprint below matches what <code>devca serve</code> printed.</p>
<p><a class="button" href="/devca-root.crt">Download devca-root.crt</a> <a href="/devca-root.pem">PEM</a></p>
<pre>SHA-256 {{groups .Fingerprint}}</pre>
<h2>iPhone and iPad</h2>
<ol>
<li>Open this page in Safari and tap the download button, then Allow.</li>
<li>Settings &rsaquo; General &rsaquo; VPN &amp; Device Management: tap the devca profile and Install.</li>
<li>Settings &rsaquo; General &rsaquo; About &rsaquo; Certificate Trust Settings: turn on full trust for the devca root.</li>
</ol>
<h2>Android</h2>
<ol>
<li>Tap the download button.</li>
<li>Settings &rsaquo; Security &amp; privacy &rsaquo; More security settings &rsaquo; Encryption &amp; credentials &rsaquo; Install a certificate &rsaquo; CA certificate, and pick devca-root.crt.</li>
<li>Chrome trusts user CAs; some apps only trust system CAs.</li>
</ol>
<h2>Remove it later</h2>
<p>iOS: delete the profile in VPN &amp; Device Management. Android: Trusted credentials &rsaquo; User &rsaquo; devca &rsaquo; Remove.</p>
</body></html>
`))
})
