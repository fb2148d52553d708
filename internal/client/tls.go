package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/parsec-go/parsec/internal/parsec"
)

// HTTPClient is the HTTP client that reaches Parsec servers, with the timeouts of the
// default one. Server certificates are verified with the system's roots and, when caFile
// is not empty, also with the certificates (PEM) of caFile: a private certificate
// authority's.
func HTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return defaultHTTPClient, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "certificate authority file: %v", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, parsec.Errorf(parsec.Invalid, "certificate authority file %q holds no PEM certificate", caFile)
	}
	tr := defaultHTTPClient.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// untrusted returns a BadAuth error saying so when err is the failure to verify the
// server's certificate, and nil otherwise.
func untrusted(base string, err error) error {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &verify) && !errors.As(err, &authority) && !errors.As(err, &host) && !errors.As(err, &invalid) {
		return nil
	}
	return &parsec.Error{Kind: parsec.BadAuth, Err: err, Msg: fmt.Sprintf("the server at %s presented a certificate that is not trusted: %v "+
		"(a private certificate authority's certificate is given with --ca-file or PARSEC_CA_FILE)", base, unwrapURLError(err))}
}
