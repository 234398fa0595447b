package serve

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// InterfaceAddrs lists this machine's interface addresses;
// [net.InterfaceAddrs] is the real one, and tests pass their own.
type InterfaceAddrs func() ([]net.Addr, error)

// LANAddresses returns the private, non-loopback, non-link-local addresses
// that list reports: the ones a phone on the same network can reach. A nil
// list means [net.InterfaceAddrs]; an error from it means none.
func LANAddresses(list InterfaceAddrs) []net.IP {
	var ips []net.IP
	for _, ip := range interfaceIPs(list) {
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || !ip.IsPrivate() {
			continue
		}
		ips = append(ips, ip)
	}
	return ips
}

// interfaceIPs is what list reports, reduced to IP addresses.
func interfaceIPs(list InterfaceAddrs) []net.IP {
	if list == nil {
		list = net.InterfaceAddrs
	}
	addrs, err := list()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ips = append(ips, ipn.IP)
		}
	}
	return ips
}

// upstreamLookupTimeout bounds the name lookup of CheckProxyListeners, so a
// slow resolver delays the start by seconds at most.
const upstreamLookupTimeout = 3 * time.Second

// CheckProxyListeners is [CheckUpstream] for a server about to run on lns:
// it refuses an upstream that is one of their addresses, this machine's
// interface addresses (from list; nil means [net.InterfaceAddrs]) counting
// for listeners on all interfaces. Nil listeners are skipped.
func CheckProxyListeners(ctx context.Context, upstream *url.URL, lns []net.Listener, list InterfaceAddrs) error {
	var addrs []net.Addr
	for _, ln := range lns {
		if ln != nil {
			addrs = append(addrs, ln.Addr())
		}
	}
	var local []netip.Addr
	for _, ip := range interfaceIPs(list) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			local = append(local, a.Unmap())
		}
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamLookupTimeout)
	defer cancel()
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	return CheckUpstream(ctx, upstream, addrs, local, lookup)
}
