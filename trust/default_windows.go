package trust

import (
	"bytes"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

func platformDefaults(e *Env) error {
	e.WindowsRoot = userRootStore{}
	return nil
}

// userRootStore is the current user's "ROOT" system store, opened for each
// operation so that no handle outlives a call.
type userRootStore struct{}

func (userRootStore) open() (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString("ROOT")
	if err != nil {
		return 0, err
	}
	h, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0, windows.CERT_SYSTEM_STORE_CURRENT_USER, uintptr(unsafe.Pointer(name)))
	if err != nil {
		return 0, fmt.Errorf("opening the current user Root store: %w", err)
	}
	return h, nil
}

// find returns a duplicate of the context holding exactly der, or nil. The
// caller frees it (CertDeleteCertificateFromStore frees it too).
func (userRootStore) find(store windows.Handle, der []byte) (*windows.CertContext, error) {
	var prev *windows.CertContext
	for {
		ctx, err := windows.CertEnumCertificatesInStore(store, prev)
		if ctx == nil {
			if err != nil && err != windows.Errno(windows.CRYPT_E_NOT_FOUND) && err != windows.ERROR_NO_MORE_FILES {
				return nil, fmt.Errorf("listing the Root store: %w", err)
			}
			return nil, nil
		}
		encoded := unsafe.Slice(ctx.EncodedCert, ctx.Length)
		if bytes.Equal(encoded, der) {
			dup := windows.CertDuplicateCertificateContext(ctx)
			windows.CertFreeCertificateContext(ctx)
			return dup, nil
		}
		prev = ctx
	}
}

// All lists the current user's Root store, which includes the roots of the
// local machine store.
func (s userRootStore) All() ([][]byte, error) {
	store, err := s.open()
	if err != nil {
		return nil, err
	}
	defer windows.CertCloseStore(store, 0)
	var out [][]byte
	var ctx *windows.CertContext
	for {
		ctx, err = windows.CertEnumCertificatesInStore(store, ctx)
		if ctx == nil {
			if err != nil && err != windows.Errno(windows.CRYPT_E_NOT_FOUND) && err != windows.ERROR_NO_MORE_FILES {
				return nil, fmt.Errorf("listing the Root store: %w", err)
			}
			return out, nil
		}
		out = append(out, bytes.Clone(unsafe.Slice(ctx.EncodedCert, ctx.Length)))
	}
}

func (s userRootStore) Contains(der []byte) (bool, error) {
	store, err := s.open()
	if err != nil {
		return false, err
	}
	defer windows.CertCloseStore(store, 0)
	ctx, err := s.find(store, der)
	if ctx != nil {
		windows.CertFreeCertificateContext(ctx)
	}
	return ctx != nil, err
}

func (s userRootStore) Add(der []byte) error {
	if len(der) == 0 {
		return fmt.Errorf("adding an empty certificate")
	}
	store, err := s.open()
	if err != nil {
		return err
	}
	defer windows.CertCloseStore(store, 0)
	ctx, err := windows.CertCreateCertificateContext(windows.X509_ASN_ENCODING|windows.PKCS_7_ASN_ENCODING, &der[0], uint32(len(der)))
	if err != nil {
		return fmt.Errorf("parsing certificate: %w", err)
	}
	defer windows.CertFreeCertificateContext(ctx)
	if err := windows.CertAddCertificateContextToStore(store, ctx, windows.CERT_STORE_ADD_USE_EXISTING, nil); err != nil {
		return fmt.Errorf("adding certificate: %w", err)
	}
	return nil
}

func (s userRootStore) Delete(der []byte) error {
	store, err := s.open()
	if err != nil {
		return err
	}
	defer windows.CertCloseStore(store, 0)
	ctx, err := s.find(store, der)
	if err != nil || ctx == nil {
		return err
	}
	if err := windows.CertDeleteCertificateFromStore(ctx); err != nil {
		return fmt.Errorf("deleting certificate: %w", err)
	}
	return nil
}
