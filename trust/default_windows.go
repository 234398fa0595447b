package trust

import (
	"bytes"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/windows"
)

func platformDefaults(e *Env) error {
	e.WindowsRoot = userRootStore{}
	e.Interactive = interactive
	return nil
}

var (
	crypt32              = windows.NewLazySystemDLL("crypt32.dll")
	procCertControlStore = crypt32.NewProc("CertControlStore")

	user32                       = windows.NewLazySystemDLL("user32.dll")
	procGetProcessWindowStation  = user32.NewProc("GetProcessWindowStation")
	procGetUserObjectInformation = user32.NewProc("GetUserObjectInformationW")
)

const (
	// certStoreCtrlCommit is CERT_STORE_CTRL_COMMIT of wincrypt.h.
	certStoreCtrlCommit = 4
	// uoiFlags and wsfVisible are UOI_FLAGS and WSF_VISIBLE of winuser.h.
	uoiFlags   = 1
	wsfVisible = 1
)

// interactive reports whether the process's window station is visible, that
// is whether a dialog it shows can reach a user. Services, and the sessions
// of the OpenSSH server (itself a service), run in an invisible one; this is
// the check Microsoft documents for "Interacting with the user from a
// service". When the answer is unknown it returns true and lets the timeout
// decide.
func interactive() bool {
	if procGetProcessWindowStation.Find() != nil || procGetUserObjectInformation.Find() != nil {
		return true
	}
	station, _, _ := procGetProcessWindowStation.Call()
	if station == 0 {
		return true
	}
	// USEROBJECTFLAGS: fInherit, fReserved, dwFlags.
	var flags struct{ inherit, reserved, flags uint32 }
	var n uint32
	ok, _, _ := procGetUserObjectInformation.Call(station, uoiFlags, uintptr(unsafe.Pointer(&flags)), unsafe.Sizeof(flags), uintptr(unsafe.Pointer(&n)))
	if ok == 0 {
		return true
	}
	return flags.flags&wsfVisible != 0
}

// userRootStore is the current user's Root store. It opens a store for each
// operation, so that no handle outlives a call.
//
// Windows presents two views of it. The "ROOT" system store
// (CERT_STORE_PROV_SYSTEM) is a collection of the user's own registry store
// and the ones it includes: the local machine's Root store, group policy
// and enterprise roots. That is what programs trust, so Trusts and All read
// it. Adding, deleting and asking "is this ours" go to the user's own
// registry store alone (CERT_STORE_PROV_SYSTEM_REGISTRY): deleting through
// the collection would take a root out of the local machine store that an
// administrator, group policy or another tool put there.
type userRootStore struct{}

// open opens the user's Root store: the collection when collection is true,
// else the user's own registry store only.
func (userRootStore) open(collection bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString("Root")
	if err != nil {
		return 0, err
	}
	provider, what := uintptr(windows.CERT_STORE_PROV_SYSTEM_REGISTRY), "the current user's own Root store"
	if collection {
		provider, what = windows.CERT_STORE_PROV_SYSTEM, "the current user's Root store"
	}
	h, err := windows.CertOpenStore(provider, 0, 0, windows.CERT_SYSTEM_STORE_CURRENT_USER, uintptr(unsafe.Pointer(name)))
	// The store name reaches crypt32 as a uintptr, which does not keep
	// the buffer alive on its own.
	runtime.KeepAlive(name)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", what, err)
	}
	return h, nil
}

// commit writes the changes made through store to the registry. Windows
// persists registry stores at once and ignores the call; Wine writes a
// deletion only on commit.
func commit(store windows.Handle) error {
	if err := procCertControlStore.Find(); err != nil {
		return err
	}
	ok, _, err := procCertControlStore.Call(uintptr(store), 0, certStoreCtrlCommit, 0)
	if ok == 0 {
		return fmt.Errorf("committing the Root store: %w", err)
	}
	return nil
}

// cancelled reports whether err is the user's "No" in the confirmation
// dialog: ERROR_CANCELLED, which crypt32 reports as an HRESULT.
func cancelled(err error) bool {
	return err == windows.ERROR_CANCELLED || err == windows.Errno(0x800704C7)
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

// All lists the Root collection, which includes the roots of the local
// machine store.
func (s userRootStore) All() ([][]byte, error) {
	store, err := s.open(true)
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

func (s userRootStore) contains(collection bool, der []byte) (bool, error) {
	store, err := s.open(collection)
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

func (s userRootStore) Trusts(der []byte) (bool, error)   { return s.contains(true, der) }
func (s userRootStore) Contains(der []byte) (bool, error) { return s.contains(false, der) }

func (s userRootStore) Add(der []byte) error {
	if len(der) == 0 {
		return fmt.Errorf("adding an empty certificate")
	}
	store, err := s.open(false)
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
		if cancelled(err) {
			return errDeclined
		}
		return fmt.Errorf("adding certificate: %w", err)
	}
	return commit(store)
}

func (s userRootStore) Delete(der []byte) error {
	store, err := s.open(false)
	if err != nil {
		return err
	}
	defer windows.CertCloseStore(store, 0)
	ctx, err := s.find(store, der)
	if err != nil || ctx == nil {
		return err
	}
	if err := windows.CertDeleteCertificateFromStore(ctx); err != nil {
		if cancelled(err) {
			return errDeclined
		}
		return fmt.Errorf("deleting certificate: %w", err)
	}
	return commit(store)
}
