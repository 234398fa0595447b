// Command firstreq measures how long a server takes from the moment it is
// started until it answers its first HTTPS request with 200, for
// bench/serve.sh.
//
//	firstreq [-runs N] [-timeout D] URL -- COMMAND [ARG...]
//
// Each run starts COMMAND, polls URL every 200µs (certificates are not
// checked: only the time matters), stops the command with SIGTERM and waits
// for it. It prints the median in milliseconds.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	runs := flag.Int("runs", 5, "number of starts")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on a start after this long")
	flag.Parse()
	args := flag.Args()
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "usage: firstreq [-runs N] URL -- COMMAND [ARG...]")
		os.Exit(2)
	}
	url, argv := args[0], args[2:]
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		Timeout: time.Second,
	}
	var times []time.Duration
	for range *runs {
		d, err := once(client, url, argv, *timeout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "firstreq:", err)
			os.Exit(1)
		}
		times = append(times, d)
	}
	slices.Sort(times)
	fmt.Printf("%.1f\n", float64(times[len(times)/2])/float64(time.Millisecond))
}

func once(client *http.Client, url string, argv []string, timeout time.Duration) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	for time.Since(start) < timeout {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("%s: no 200 from %s within %s", argv[0], url, timeout)
}
