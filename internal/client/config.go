package client

import (
	"os"
	"path/filepath"

	"github.com/parsec-go/parsec/internal/parsec"
)

// DefaultConfigDir is $PARSEC_CONFIG_DIR, else $XDG_CONFIG_HOME/parsec, else ~/.config/parsec.
func DefaultConfigDir() string {
	if d := os.Getenv("PARSEC_CONFIG_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "parsec-config")
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "parsec")
}

// cachePath is where a device's local cache lives.
func cachePath(configDir string, id parsec.DeviceID) string {
	return filepath.Join(configDir, "data", id.String(), "local.db")
}

// RemoveDeviceData deletes what a device keeps on this computer besides its device file
// (its local cache). Nothing there is an error.
func RemoveDeviceData(configDir string, id parsec.DeviceID) error {
	return os.RemoveAll(filepath.Dir(cachePath(configDir, id)))
}
