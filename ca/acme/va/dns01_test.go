package va

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// zone is what a dnsServer knows, by lowercase fully qualified name. It
// answers like a recursive resolver: a CNAME comes with the records of
// its target.
type zone struct {
	txt      map[string][][]string // each record is one or more strings
	cname    map[string]string
	a        map[string]netip.Addr
	servfail map[string]bool
	silent   bool // never answer
}

// startDNS serves z over UDP on 127.0.0.1 and returns its address.
// Cleanup stops it.
func startDNS(t *testing.T, z zone) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if z.silent {
				continue
			}
			resp, err := z.answer(buf[:n])
			if err != nil {
				t.Errorf("DNS server: %v", err)
				continue
			}
			if _, err := conn.WriteTo(resp, from); err != nil {
				t.Errorf("DNS server: %v", err)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		wg.Wait()
	})
	return conn.LocalAddr().String()
}

// answer builds the response to the query q.
func (z zone) answer(q []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, fmt.Errorf("parsing a query: %w", err)
	}
	question, err := p.Question()
	if err != nil {
		return nil, fmt.Errorf("parsing a question: %w", err)
	}
	name := strings.ToLower(question.Name.String())
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	type rr struct {
		name string
		body dnsmessage.ResourceBody
	}
	var answers []rr
	owner := name
	if target, ok := z.cname[name]; ok {
		answers = append(answers, rr{name, &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)}})
		owner = target
	}
	switch question.Type {
	case dnsmessage.TypeTXT:
		for _, strs := range z.txt[owner] {
			answers = append(answers, rr{owner, &dnsmessage.TXTResource{TXT: strs}})
		}
	case dnsmessage.TypeA:
		if addr, ok := z.a[owner]; ok {
			answers = append(answers, rr{owner, &dnsmessage.AResource{A: addr.As4()}})
		}
	}
	_, hasTXT := z.txt[owner]
	_, hasA := z.a[owner]
	switch {
	case z.servfail[name]:
		rh.RCode = dnsmessage.RCodeServerFailure
		answers = nil
	case len(answers) == 0 && !hasTXT && !hasA:
		rh.RCode = dnsmessage.RCodeNameError
	}

	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(question); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range answers {
		hdr := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(a.name), Class: dnsmessage.ClassINET, TTL: 60}
		switch body := a.body.(type) {
		case *dnsmessage.CNAMEResource:
			err = b.CNAMEResource(hdr, *body)
		case *dnsmessage.TXTResource:
			err = b.TXTResource(hdr, *body)
		case *dnsmessage.AResource:
			err = b.AResource(hdr, *body)
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

func TestDNS01(t *testing.T) {
	want := txtValue(testKeyAuth)
	server := startDNS(t, zone{
		txt: map[string][][]string{
			"_acme-challenge.ok.test.":         {{want}},
			"_acme-challenge.wrong.test.":      {{"nope"}},
			"_acme-challenge.several.test.":    {{"first"}, {want}, {"last"}},
			"_acme-challenge.none-match.test.": {{"first"}, {"second"}},
			"_acme-challenge.split.test.":      {{want[:20], want[20:]}},
			"_acme-challenge.target.test.":     {{want}},
			"_acme-challenge.upper.test.":      {{strings.ToUpper(want)}},
		},
		cname:    map[string]string{"_acme-challenge.cname.test.": "_acme-challenge.target.test."},
		a:        map[string]netip.Addr{"_acme-challenge.nodata.test.": netip.MustParseAddr("127.0.0.1")},
		servfail: map[string]bool{"_acme-challenge.servfail.test.": true},
	})
	a := newAuthority(t, Config{DNSServer: server, Timeout: 5 * time.Second})
	for _, tc := range []struct {
		name       string
		id         string
		wantType   string
		wantDetail []string
	}{
		{name: "ok/one record", id: "ok.test"},
		{name: "ok/wildcard with its star", id: "*.ok.test"},
		{name: "ok/one of several records", id: "several.test"},
		{name: "ok/record of several strings", id: "split.test"},
		{name: "ok/CNAME", id: "cname.test"},
		{name: "ok/name in capitals", id: "OK.Test"},
		{
			name: "fail/wrong value", id: "wrong.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`the TXT records at _acme-challenge.wrong.test. through ` + server + ` are "nope"; none is "` + want + `"`},
		},
		{
			name: "fail/several records, none matching", id: "none-match.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`are "first", "second"; none is`},
		},
		{
			name: "fail/value in other case", id: "upper.test", wantType: TypeIncorrectResponse,
		},
		{
			name: "fail/NXDOMAIN", id: "missing.test", wantType: TypeUnauthorized,
			wantDetail: []string{"no TXT record at _acme-challenge.missing.test. through " + server + ` (want "` + want + `"): no such host`},
		},
		{
			name: "fail/no TXT at an existing name", id: "nodata.test", wantType: TypeUnauthorized,
			wantDetail: []string{"no TXT record at _acme-challenge.nodata.test."},
		},
		{
			name: "fail/SERVFAIL", id: "servfail.test", wantType: TypeDNS,
			wantDetail: []string{"looking up TXT records at _acme-challenge.servfail.test. through " + server + ": server misbehaving"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := checkResult(t, a.Validate(context.Background(), DNS01, tc.id, testToken, testKeyAuth), tc.wantType, tc.wantDetail...)
			if e != nil && (e.URL != "" || e.Addr != "") {
				t.Errorf("URL %q and Addr %q, want none for dns-01", e.URL, e.Addr)
			}
		})
	}
}

// TestDNSServerResolvesNames checks that Config.DNSServer also resolves
// the names http-01 connects to.
func TestDNSServerResolvesNames(t *testing.T) {
	srv := httptest.NewServer(challengeHandler(0, 0, 0))
	t.Cleanup(srv.Close)
	server := startDNS(t, zone{a: map[string]netip.Addr{"ok.test.": netip.MustParseAddr("127.0.0.1")}})
	a := newAuthority(t, Config{DNSServer: server, HTTPPort: srv.Listener.Addr().(*net.TCPAddr).Port, Timeout: 5 * time.Second})
	checkResult(t, a.Validate(context.Background(), HTTP01, "ok.test", testToken, testKeyAuth), "")
	checkResult(t, a.Validate(context.Background(), HTTP01, "missing.test", testToken, testKeyAuth), TypeDNS,
		"resolving missing.test through "+server+": no such host")
}

// TestLookupTXT checks the Config.LookupTXT seam and that a lookup error
// stays reachable through the *Error.
func TestLookupTXT(t *testing.T) {
	broken := errors.New("resolver exploded")
	var asked []string
	a := newAuthority(t, Config{LookupTXT: func(_ context.Context, name string) ([]string, error) {
		asked = append(asked, name)
		if name == "_acme-challenge.broken.test." {
			return nil, broken
		}
		return []string{txtValue(testKeyAuth)}, nil
	}})
	checkResult(t, a.Validate(context.Background(), DNS01, "*.ok.test", testToken, testKeyAuth), "")
	err := a.Validate(context.Background(), DNS01, "broken.test", testToken, testKeyAuth)
	checkResult(t, err, TypeDNS, "through Config.LookupTXT: resolver exploded")
	if !errors.Is(err, broken) {
		t.Errorf("errors.Is(%v, the lookup's error) = false", err)
	}
	if want := []string{"_acme-challenge.ok.test.", "_acme-challenge.broken.test."}; strings.Join(asked, " ") != strings.Join(want, " ") {
		t.Errorf("looked up %q, want %q", asked, want)
	}
}
