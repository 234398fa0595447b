package serve

import (
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// HeaderError says why a header given for every response cannot be sent.
type HeaderError struct {
	Name   string
	Reason string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("header %q: %s", e.Name, e.Reason)
}

// CheckHeader reports whether name: value can be added to every response
// (see [Config.Headers]). It refuses what net/http would drop without a
// word (invalid names, control characters in values) and what would break
// the protocol: hop-by-hop headers describe one connection, HTTP/2 forbids
// them and a client given "Connection: close" or "Upgrade: h2c" on an
// HTTP/2 stream fails the whole response; Content-Length and
// Transfer-Encoding frame each body, and Content-Encoding says how it was
// compressed, so a fixed value corrupts every body it does not fit;
// pseudo-headers (":status") belong to HTTP/2 itself.
func CheckHeader(name, value string) error {
	canon := http.CanonicalHeaderKey(name)
	var reason string
	switch {
	case strings.HasPrefix(name, ":"):
		reason = "pseudo-headers (names starting with ':') are part of HTTP/2 framing and cannot be set"
	case !httpguts.ValidHeaderFieldName(name):
		reason = "a header name is one word of letters, digits and !#$%&'*+-.^_`|~"
	case canon == "Content-Length" || canon == "Transfer-Encoding":
		reason = "it frames the body, which the server does for each response; a fixed value corrupts bodies"
	case canon == "Content-Encoding":
		reason = "the server sets it for each response it compresses; a fixed value makes clients decode bodies wrongly"
	case isHopByHop(canon):
		reason = "it is a hop-by-hop header that describes one connection; HTTP/2 forbids it and the server manages connections itself"
	case !httpguts.ValidHeaderFieldValue(value):
		reason = "the value holds a control character such as a line break"
	default:
		return nil
	}
	return &HeaderError{Name: name, Reason: reason}
}

// isHopByHop reports whether canon, a canonical header name, is one of the
// connection-specific headers of RFC 9110 section 7.6.1 and RFC 9113
// section 8.2.2 (the list net/http/httputil strips).
func isHopByHop(canon string) bool {
	switch canon {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}
