package main

import "github.com/devca/devca/ca"

// recordedKeyFiles returns the key and PKCS#12 files the CA home's record
// says devca wrote, which serve never serves. The record is read from the
// CA home before any CA is loaded or created (it needs no key), so it works
// with --cert-file too: keys issued earlier may sit in the served folder
// either way.
func recordedKeyFiles(e *env) []string {
	home, err := e.home()
	if err != nil {
		return nil
	}
	auth := &ca.Authority{Dir: home}
	e.loaded = append(e.loaded, auth) // its damaged-record warnings print at exit
	entries, err := auth.Record()
	if err != nil {
		e.warnf("%v; key files devca wrote are hidden only if their names or contents look like keys", err)
	}
	var files []string
	for _, en := range entries {
		for _, p := range []string{en.KeyFile, en.P12File} {
			if p != "" {
				files = append(files, p)
			}
		}
	}
	return files
}
