package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/server/serve"
)

// A server that speaks HTTPS with a certificate of a private certificate authority: its
// links are parsec3:// links without no_ssl, and clients given the authority with --ca-file
// (or PARSEC_CA_FILE) bootstrap and use it; without it they refuse the server with a clear
// error.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	w := newWorld(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(w.url, "https://") {
		t.Fatalf("server URL %q, want https://", w.url)
	}

	// Without the authority: a certificate error, exit code 4.
	w.parsec("", "org", "create", "Acme", "--addr", w.url, "--admin-token", serve.DevAdminToken).
		wantFailure(exitDenied, `presented a certificate that is not trusted: .*certificate signed by unknown authority.*--ca-file`)

	link := w.parsec("", "org", "create", "Acme", "--addr", w.url, "--admin-token", serve.DevAdminToken, "--ca-file", caFile).ok()
	if !strings.HasPrefix(link, w.url+"/redirect/Acme?") {
		t.Fatalf("bootstrap link %q: want %s/redirect/Acme?…", link, w.url)
	}
	// The page at that address opens the parsec3:// form, without no_ssl.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(must(os.ReadFile(caFile)))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := hc.Get(strings.TrimSpace(link))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := regexp.MustCompile(`href="(parsec3://[^"]+)"`).FindSubmatch(page); m == nil || strings.Contains(string(m[1]), "no_ssl") {
		t.Errorf("the redirection page does not open a parsec3:// link without no_ssl:\n%s", page)
	}
	alice := w.newAccount("correct horse")
	w.parsec(alice.password+"\n", "org", "bootstrap", strings.TrimSpace(link), "--email", "alice@example.com", "--name", "Alice",
		"--device-label", "laptop", "--config-dir", alice.dir, "--password-stdin").
		wantFailure(exitDenied, `not trusted`)
	w.parsec(alice.password+"\n", "org", "bootstrap", strings.TrimSpace(link), "--email", "alice@example.com", "--name", "Alice",
		"--device-label", "laptop", "--config-dir", alice.dir, "--password-stdin", "--ca-file", caFile).ok()

	t.Setenv("PARSEC_CA_FILE", caFile) // the child processes inherit it
	w.as(alice, "workspace", "create", "Docs").ok()
	local := localFile(t, "over TLS")
	w.as(alice, "cp", local, "Docs:/note.txt").ok()
	if got := w.as(alice, "cat", "Docs:/note.txt").ok(); got != "over TLS" {
		t.Errorf("note.txt read back %q", got)
	}
	if _, url := invitation(t, w.as(alice, "invite", "user", "bob@example.com").ok()); !strings.HasPrefix(url, "https://") {
		t.Errorf("invitation URL %q: want https://", url)
	}
	w.as(alice, "ls", "Docs:/", "--ca-file", filepath.Join(dir, "missing.pem")).wantFailure(exitUsage, `certificate authority file`)
}

// writeTestPKI writes a certificate authority and a server certificate for 127.0.0.1 signed
// by it, in PEM files in dir.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "parsec.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", leafDER), write("server.key", "PRIVATE KEY", keyDER)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
