package wfe

import (
	"net/http"

	"github.com/devca/devca/ca/acme/wire"
)

func (w *WFE) directory(*http.Request) (*response, error) {
	meta := &wire.DirectoryMeta{
		TermsOfService:          w.cfg.TermsOfService,
		ExternalAccountRequired: w.cfg.RequireExternalAccountBinding,
		Profiles:                map[string]string{},
	}
	for name, p := range w.cfg.Profiles {
		meta.Profiles[name] = p.Description
	}
	return &response{body: wire.Directory{
		NewNonce:    w.url(pathNewNonce),
		NewAccount:  w.url(pathNewAccount),
		NewOrder:    w.url(pathNewOrder),
		RevokeCert:  w.url(pathRevokeCert),
		KeyChange:   w.url(pathKeyChange),
		RenewalInfo: w.url(pathRenewalInfo),
		Meta:        meta,
	}}, nil
}

// newNonce answers HEAD with 200 and GET with 204 (RFC 8555 §7.2); the nonce itself is
// in every response's headers.
func (w *WFE) newNonce(rw http.ResponseWriter, hr *http.Request) {
	switch hr.Method {
	case http.MethodHead:
		w.write(rw, &response{})
	case http.MethodGet:
		w.write(rw, &response{status: http.StatusNoContent})
	default:
		rw.Header().Set("Allow", "GET, HEAD")
		w.writeProblem(rw, wire.MalformedProblem("method %s is not allowed; use HEAD or GET", hr.Method).WithStatus(http.StatusMethodNotAllowed))
	}
}
