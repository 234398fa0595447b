package serve

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCheckHeader(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		reason      string // a word of the reason; "" means accepted
	}{
		{"X-Frame-Options", "DENY", ""},
		{"cache-control", "no-store", ""},
		{"Content-Security-Policy", "default-src 'self'; img-src *", ""},
		{"X-Empty", "", ""},
		{"X-Tab", "a\tb", ""},
		{"X-Unicode", "café", ""},
		{"Set-Cookie", "a=b; Secure", ""},

		{"Connection", "close", "hop-by-hop"},
		{"connection", "keep-alive", "hop-by-hop"},
		{"Keep-Alive", "timeout=5", "hop-by-hop"},
		{"Proxy-Connection", "close", "hop-by-hop"},
		{"TE", "trailers", "hop-by-hop"},
		{"Trailer", "X-Checksum", "hop-by-hop"},
		{"Upgrade", "h2c", "hop-by-hop"},
		{"Proxy-Authenticate", "Basic", "hop-by-hop"},
		{"Proxy-Authorization", "Basic eA==", "hop-by-hop"},
		{"Content-Length", "0", "frames the body"},
		{"Transfer-Encoding", "chunked", "frames the body"},
		{"Content-Encoding", "gzip", "decode"},
		{":status", "200", "pseudo-header"},
		{":authority", "x", "pseudo-header"},
		{"X Bad", "v", "header name"},
		{"X-Bad:", "v", "header name"},
		{"", "v", "header name"},
		{"X-Ünicode", "v", "header name"},
		{"X-CR", "a\rb", "control character"},
		{"X-LF", "a\nSet-Cookie: x=y", "control character"},
		{"X-NUL", "a\x00b", "control character"},
		{"X-ESC", "\x1b[31mred", "control character"},
		{"X-DEL", "a\x7fb", "control character"},
	} {
		err := CheckHeader(tc.name, tc.value)
		prefix := "fail/"
		if tc.reason == "" {
			prefix = "ok/"
		}
		t.Run(prefix+tc.name, func(t *testing.T) {
			if tc.reason == "" {
				if err != nil {
					t.Errorf("CheckHeader(%q, %q) = %v", tc.name, tc.value, err)
				}
				return
			}
			var he *HeaderError
			if !errors.As(err, &he) || he.Name != tc.name || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("CheckHeader(%q, %q) = %v, want a HeaderError about %q", tc.name, tc.value, err, tc.reason)
			}
		})
	}
}

// TestNewRefusesBadHeaders checks the library refuses what the command line
// refuses, so no caller can configure a header net/http would drop or one
// that breaks HTTP/2.
func TestNewRefusesBadHeaders(t *testing.T) {
	for _, hdr := range []http.Header{
		{"Connection": {"close"}},
		{"X-Ok": {"fine"}, "Upgrade": {"h2c"}},
		{"X-Multi": {"fine", "bad\r\nvalue"}},
	} {
		if h, err := New(Config{Dir: t.TempDir(), Headers: hdr}); err == nil {
			h.Close()
			t.Errorf("New accepted Headers %q", hdr)
		}
	}
}
