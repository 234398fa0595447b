package ca

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"

	"golang.org/x/crypto/scrypt"
)

// KDFParams are the scrypt parameters that turn a passphrase into the
// password of the encrypted root key. They are stored in the CA's metadata
// (none is secret) so that later versions can raise the cost for new keys
// and still read old ones.
//
// scrypt rather than PBKDF2: it is memory-hard, so guessing passphrases on
// GPUs costs far more, and the cost is a single parameter. The default
// N = 2^16, r = 8 (64 MiB, about 0.1–0.2 s) is paid on every signing, which
// is what passphrase storage asks the user to accept; PKCS#12's own PBKDF2
// with 2048 iterations alone would protect a human passphrase poorly.
type KDFParams struct {
	Algorithm string `json:"algorithm"`
	Salt      string `json:"salt"`
	LogN      int    `json:"log_n"`
	R         int    `json:"r"`
	P         int    `json:"p"`
}

// Default scrypt cost for new passphrase-protected keys.
const (
	defaultScryptLogN = 16
	defaultScryptR    = 8
	defaultScryptP    = 1
)

// Upper bounds on the cost devca accepts from a metadata file, so that a
// tampered ca.json cannot make devca allocate gigabytes or spin for minutes.
// Each parameter is bounded, and so is what they cost together: scrypt needs
// 128·N·r bytes of memory and time in proportion to N·r·p, so N = 2^22 with
// r = 32 (16 GiB), or r = 32 with p = 16, would pass the single bounds.
const (
	maxScryptLogN   = 22
	maxScryptR      = 32
	maxScryptP      = 16
	maxScryptMemory = 1 << 30 // bytes, 128·N·r: 16 times the default 64 MiB
	maxScryptWork   = 1 << 24 // N·r·p: 32 times the default, a few seconds
)

func newKDFParams() (KDFParams, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return KDFParams{}, fmt.Errorf("generating salt: %w", err)
	}
	return KDFParams{Algorithm: "scrypt", Salt: hex.EncodeToString(salt[:]), LogN: defaultScryptLogN, R: defaultScryptR, P: defaultScryptP}, nil
}

// check refuses parameters that are malformed or cost more than devca
// accepts, before anyone is asked for a passphrase.
func (k KDFParams) check() error {
	if k.Algorithm != "scrypt" {
		return fmt.Errorf("unknown passphrase key derivation %q", k.Algorithm)
	}
	if salt, err := hex.DecodeString(k.Salt); err != nil || len(salt) < 16 {
		return fmt.Errorf("invalid scrypt salt %q", k.Salt)
	}
	if k.LogN < 10 || k.LogN > maxScryptLogN || k.R < 1 || k.R > maxScryptR || k.P < 1 || k.P > maxScryptP {
		return fmt.Errorf("scrypt parameters N=2^%d r=%d p=%d are out of range (N from 2^10 to 2^%d, r from 1 to %d, p from 1 to %d)",
			k.LogN, k.R, k.P, maxScryptLogN, maxScryptR, maxScryptP)
	}
	// Within the single bounds these products fit in an int64.
	n, r, p := int64(1)<<k.LogN, int64(k.R), int64(k.P)
	if mem, work := 128*n*r, n*r*p; mem > maxScryptMemory || work > maxScryptWork {
		return fmt.Errorf("scrypt parameters N=2^%d r=%d p=%d together cost too much: %d MiB of memory (at most %d) and N·r·p = 2^%.1f (at most 2^%.0f)",
			k.LogN, k.R, k.P, mem>>20, maxScryptMemory>>20, math.Log2(float64(work)), math.Log2(maxScryptWork))
	}
	return nil
}

// derive returns the hex-encoded 32-byte key for passphrase.
func (k KDFParams) derive(passphrase []byte) (string, error) {
	if err := k.check(); err != nil {
		return "", err
	}
	salt, _ := hex.DecodeString(k.Salt)
	key, err := scrypt.Key(passphrase, salt, 1<<k.LogN, k.R, k.P, 32)
	if err != nil {
		return "", fmt.Errorf("deriving key from passphrase: %w", err)
	}
	return hex.EncodeToString(key), nil
}
