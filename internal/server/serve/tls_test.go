package serve

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTLS(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name, cert, key string
		wantErr         string // "" for no error and no configuration
	}{
		{name: "neither: plain HTTP"},
		{name: "certificate alone", cert: missing, wantErr: "both --tls-cert and --tls-key"},
		{name: "key alone", key: missing, wantErr: "both --tls-cert and --tls-key"},
		{name: "missing files", cert: missing, key: missing, wantErr: "missing.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadTLS(tc.cert, tc.key)
			if tc.wantErr == "" {
				if cfg != nil || err != nil {
					t.Errorf("loadTLS = %v, %v; want nil, nil", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadTLS error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}
