package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"
)

// The operations below are what callers do with a CA: issue a certificate to
// files, sign a request to files, renew a recorded certificate over its own
// files. Each signs, writes the files and adds the record entry as one unit
// (see publish), so no caller builds file lists or record entries by hand.

// Files says where an issued certificate goes. The zero value writes no file
// and only records the certificate: an ACME server, or a caller that prints
// the certificate, uses the returned [Issuance.CertPEM].
type Files struct {
	// CertFile receives the certificate, followed by the root when
	// FullChain is set.
	CertFile  string
	FullChain bool
	// KeyFile receives the private key of an issued (not signed) leaf.
	KeyFile string
	// P12File, when set, receives the key, certificate and root as a
	// PKCS#12 file encrypted with P12Password (3DES and SHA-1 with
	// P12Legacy, for old keystores).
	P12File     string
	P12Password string
	P12Legacy   bool
}

// Issuance is a certificate that was issued, written and recorded.
type Issuance struct {
	// Issued is the record entry that was added.
	Issued
	Leaf *Leaf
	// CertPEM is the certificate as written to CertFile: the leaf, and the
	// chain up to the root after it with Files.FullChain.
	CertPEM []byte
	// Warnings describe how names were read (a request without SANs
	// certified for its common name), for the caller to show.
	Warnings []string
}

// IssueToFiles issues a leaf with a fresh key for req and writes it as out
// says. req.PublicKey must be nil: a caller with a public key has a request
// to sign (see [Authority.SignCSR]).
func (a *Authority) IssueToFiles(req LeafRequest, out Files) (*Issuance, error) {
	if req.PublicKey != nil {
		return nil, errors.New("IssueToFiles makes its own key; sign a request for a given public key")
	}
	leaf, err := a.Issue(req)
	if err != nil {
		return nil, err
	}
	return a.publishLeaf(leaf, req, out, "")
}

// CSRRequest is a certificate signing request to sign.
type CSRRequest struct {
	CSR *x509.CertificateRequest
	// File is where the request was read from. It is recorded so that
	// [Authority.Renew] can sign it again; empty means it cannot.
	File string
	// Names, when set, are the names to certify instead of all that the
	// request asks for (an ACME server passes the identifiers it
	// validated); each must be one the request asks for.
	Names Names
	// Days, Lifetime, NotBefore and Client are as in LeafRequest.
	Days      int
	Lifetime  time.Duration
	NotBefore time.Time
	Client    bool
}

// SignCSR certifies the public key and names of req.CSR, writes the
// certificate as out says (out.KeyFile and the PKCS#12 file are not
// allowed: devca does not have the key) and records it. Nothing else in the
// request is honoured: requested extensions such as basicConstraints CA:TRUE
// or key usages are ignored, and the leaf gets the same profile as Issue
// gives; [IgnoredExtensions] names what was dropped. The root's name
// constraints are enforced as for Issue.
func (a *Authority) SignCSR(req CSRRequest, out Files) (*Issuance, error) {
	if out.KeyFile != "" || out.P12File != "" {
		return nil, errors.New("a signed request's private key stays with its owner: no key or PKCS#12 file can be written")
	}
	asked, warnings, err := CSRNames(req.CSR)
	if err != nil {
		return nil, err
	}
	names := asked
	if req.Names != nil {
		for _, n := range req.Names {
			if !slices.Contains(asked, n) {
				return nil, fmt.Errorf("the request does not ask for %s %q", n.Kind, n.Value)
			}
		}
		names, warnings = req.Names, nil
	}
	if err := checkPublicKey(req.CSR.PublicKey); err != nil {
		return nil, fmt.Errorf("checking the request's key: %w", err)
	}
	lr := LeafRequest{Names: names, PublicKey: req.CSR.PublicKey, Days: req.Days, Lifetime: req.Lifetime,
		NotBefore: req.NotBefore, Client: req.Client}
	leaf, err := a.Issue(lr)
	if err != nil {
		return nil, err
	}
	is, err := a.publishLeaf(leaf, lr, out, req.File)
	if err != nil {
		return nil, err
	}
	is.Warnings = warnings
	return is, nil
}

// publishLeaf writes leaf's files and its record entry as one unit.
func (a *Authority) publishLeaf(leaf *Leaf, req LeafRequest, out Files, csrFile string) (*Issuance, error) {
	certPEM := leaf.CertPEM
	if out.FullChain {
		certPEM = slices.Concat(certPEM, a.chainPEM())
	}
	var files []outputFile
	if out.CertFile != "" {
		files = append(files, outputFile{Path: out.CertFile, Data: certPEM, Perm: CertPerm})
	}
	if out.KeyFile != "" && leaf.KeyPEM != nil {
		files = append(files, outputFile{Path: out.KeyFile, Data: leaf.KeyPEM, Perm: KeyPerm})
	} else {
		out.KeyFile = ""
	}
	if out.P12File != "" {
		p12, err := encodeP12(leaf, a.chainCerts(), out.P12Password, out.P12Legacy)
		if err != nil {
			return nil, err
		}
		files = append(files, outputFile{Path: out.P12File, Data: p12, Perm: KeyPerm})
	}
	e := newIssued(leaf, req.Names, a.now())
	e.Client, e.Days, e.FullChain = req.Client, req.Days, out.FullChain
	e.CertFile, e.KeyFile, e.P12File, e.P12Legacy, e.CSRFile = out.CertFile, out.KeyFile, out.P12File, out.P12Legacy, csrFile
	e.setDigests(files)
	if err := a.publish(files, e); err != nil {
		return nil, err
	}
	return &Issuance{Issued: e, Leaf: leaf, CertPEM: certPEM}, nil
}

// Renew issues old's certificate again over its own files, with the same
// names and options, and records it (which marks old replaced). A signed
// request is signed again from the file it was read from. p12Password
// encrypts a renewed PKCS#12 file.
//
// Renew never overwrites what someone changed: unless every file still holds
// what devca wrote there (the same bytes where the record keeps a digest;
// for records from before digests, the same certificate, its key, and a
// PKCS#12 file that opens with p12Password to it), it fails with a
// *[FileChangedError] and writes nothing. Whether the paths are still safe to
// write is the caller's to check.
func (a *Authority) Renew(old Issued, p12Password string) (*Issuance, error) {
	if old.CertFile == "" {
		return nil, fmt.Errorf("the certificate for %v (serial %s) went to standard output, so there is no file to renew", old.Names, old.Serial)
	}
	if err := checkUnchanged(old, p12Password); err != nil {
		return nil, err
	}
	out := Files{CertFile: old.CertFile, FullChain: old.FullChain, KeyFile: old.KeyFile,
		P12File: old.P12File, P12Password: p12Password, P12Legacy: old.P12Legacy}
	if old.CSRFile != "" {
		data, err := ReadInputFile(old.CSRFile, MaxCSRSize)
		if err != nil {
			return nil, fmt.Errorf("reading the original request %q: %w", old.CSRFile, err)
		}
		csr, err := ParseCSR(data)
		if err != nil {
			return nil, fmt.Errorf("reading the original request %q: %w", old.CSRFile, err)
		}
		out.KeyFile, out.P12File = "", ""
		return a.SignCSR(CSRRequest{CSR: csr, File: old.CSRFile, Days: old.Days, Client: old.Client}, out)
	}
	names, _, err := ParseNames(old.Names)
	if err != nil {
		return nil, err
	}
	kt, err := ParseKeyType(old.KeyType)
	if err != nil {
		return nil, err
	}
	return a.IssueToFiles(LeafRequest{Names: names, KeyType: kt, Days: old.Days, Client: old.Client}, out)
}

// FileChangedError reports a file of a recorded certificate that no longer
// holds what devca wrote there, so [Authority.Renew] leaves it and the files
// that go with it alone.
type FileChangedError struct {
	// What names the file's role: "certificate", "key" or "PKCS#12 bundle".
	What string
	Path string
	// Removed says the file is gone. Unverifiable says a PKCS#12 file
	// recorded without a digest does not open with the password given,
	// so whether it changed cannot be told.
	Removed, Unverifiable bool
}

func (e *FileChangedError) Error() string {
	switch {
	case e.Removed:
		return fmt.Sprintf("%q was removed since devca wrote it; leaving the other files alone", e.Path)
	case e.Unverifiable:
		return fmt.Sprintf("cannot tell whether %q still holds what devca wrote there (it does not open with this password, or holds another certificate); leaving it alone", e.Path)
	}
	return fmt.Sprintf("%q no longer holds the %s devca wrote there; leaving it and the files that go with it alone", e.Path, e.What)
}

// checkUnchanged fails unless every file of the recorded certificate still
// holds what devca wrote there.
func checkUnchanged(en Issued, p12Password string) error {
	certPEM, err := readUnchanged("certificate", en.CertFile, en.CertSHA256)
	if err != nil {
		return err
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil || Fingerprint(certs[0]) != en.Fingerprint {
		return &FileChangedError{What: "certificate", Path: en.CertFile}
	}
	if en.KeyFile != "" {
		keyPEM, err := readUnchanged("key", en.KeyFile, en.KeySHA256)
		if err != nil {
			return err
		}
		if en.KeySHA256 == "" && !keyMatchesCert(keyPEM, certs[0]) {
			return &FileChangedError{What: "key", Path: en.KeyFile}
		}
	}
	if en.P12File != "" {
		p12, err := readUnchanged("PKCS#12 bundle", en.P12File, en.P12SHA256)
		if err != nil {
			return err
		}
		if en.P12SHA256 == "" {
			if fp, err := p12LeafFingerprint(p12, p12Password); err != nil || fp != en.Fingerprint {
				return &FileChangedError{What: "PKCS#12 bundle", Path: en.P12File, Unverifiable: true}
			}
		}
	}
	return nil
}

// readUnchanged reads a file devca wrote, and compares it with the recorded
// digest when there is one.
func readUnchanged(what, path, digest string) ([]byte, error) {
	data, err := ReadInputFile(path, MaxInputFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &FileChangedError{What: what, Path: path, Removed: true}
	}
	if err != nil {
		var tooLarge *TooLargeError
		if errors.As(err, &tooLarge) {
			return nil, &FileChangedError{What: what, Path: path}
		}
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if digest != "" && contentSHA256(data) != digest {
		return nil, &FileChangedError{What: what, Path: path}
	}
	return data, nil
}
