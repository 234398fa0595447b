package ca

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

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

// Upper bound on the cost devca accepts from a metadata file, so a tampered
// ca.json cannot make devca allocate unbounded memory (2^22 × r=8 is 4 GiB).
const maxScryptLogN = 22

func newKDFParams() (KDFParams, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return KDFParams{}, fmt.Errorf("generating salt: %w", err)
	}
	return KDFParams{Algorithm: "scrypt", Salt: hex.EncodeToString(salt[:]), LogN: defaultScryptLogN, R: defaultScryptR, P: defaultScryptP}, nil
}

// derive returns the hex-encoded 32-byte key for passphrase.
func (k KDFParams) derive(passphrase []byte) (string, error) {
	if k.Algorithm != "scrypt" {
		return "", fmt.Errorf("unknown passphrase key derivation %q", k.Algorithm)
	}
	salt, err := hex.DecodeString(k.Salt)
	if err != nil || len(salt) < 16 {
		return "", fmt.Errorf("invalid scrypt salt %q", k.Salt)
	}
	if k.LogN < 10 || k.LogN > maxScryptLogN || k.R < 1 || k.R > 32 || k.P < 1 || k.P > 16 {
		return "", fmt.Errorf("scrypt parameters N=2^%d r=%d p=%d are out of range", k.LogN, k.R, k.P)
	}
	key, err := scrypt.Key(passphrase, salt, 1<<k.LogN, k.R, k.P, 32)
	if err != nil {
		return "", fmt.Errorf("deriving key from passphrase: %w", err)
	}
	return hex.EncodeToString(key), nil
}
