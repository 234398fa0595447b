package serve

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestListingCap: a folder with more entries than MaxListing lists the
// first MaxListing in listing order and says how many it left out.
func TestListingCap(t *testing.T) {
	dir := t.TempDir()
	const extra = 57
	for i := range MaxListing + extra - 2 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.txt", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Folders come first whatever their names; hidden files do not count.
	writeTree(t, dir, map[string]string{"zz-dir/": "", "ZY-dir/": "", ".hidden": "x"})
	h := newHandler(t, Config{Dir: dir})

	resp := do(t, h, "GET", "/")
	page := body(t, resp)
	links := regexp.MustCompile(`href="\./([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) != MaxListing {
		t.Fatalf("listing has %d links, want %d", len(links), MaxListing)
	}
	if links[0][1] != "ZY-dir/" || links[1][1] != "zz-dir/" || links[2][1] != "f00000.txt" {
		t.Errorf("listing starts %v", links[:3])
	}
	if last, want := links[MaxListing-1][1], fmt.Sprintf("f%05d.txt", MaxListing-3); last != want {
		t.Errorf("last entry %s, want %s", last, want)
	}
	if want := fmt.Sprintf("This folder holds %d more entries than the first %d shown here", extra, MaxListing); !strings.Contains(page, want) {
		t.Errorf("listing lacks the note %q", want)
	}
	if got := resp.Header.Get("Devca-Listing-Omitted"); got != strconv.Itoa(extra) {
		t.Errorf("Devca-Listing-Omitted = %q", got)
	}

	resp = do(t, h, "GET", "/", "Accept: application/json")
	var entries []listingEntry
	if err := json.Unmarshal([]byte(body(t, resp)), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != MaxListing || resp.Header.Get("Devca-Listing-Omitted") != strconv.Itoa(extra) {
		t.Errorf("JSON: %d entries, omitted %q", len(entries), resp.Header.Get("Devca-Listing-Omitted"))
	}

	// A folder within the cap has no note.
	small := t.TempDir()
	writeTree(t, small, map[string]string{"a.txt": "a"})
	resp = do(t, newHandler(t, Config{Dir: small}), "GET", "/")
	if page := body(t, resp); strings.Contains(page, "more entr") || resp.Header.Get("Devca-Listing-Omitted") != "" {
		t.Errorf("a small listing has a note: %q", resp.Header.Get("Devca-Listing-Omitted"))
	}
}
