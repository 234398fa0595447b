package main

import "github.com/devca/devca/ca"

// recordedKeyFiles returns the key and PKCS#12 files the CA home's record
// says devca wrote, which serve never serves. auth is nil with --cert-file;
// the record is then read from the CA home all the same (it needs no key),
// since keys issued earlier may sit in the served folder either way.
func recordedKeyFiles(e *env, auth *ca.Authority) []string {
	if auth == nil {
		home, err := e.home()
		if err != nil {
			return nil
		}
		auth = &ca.Authority{Dir: home}
	}
	entries, err := auth.Entries()
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
