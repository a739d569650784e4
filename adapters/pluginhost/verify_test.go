package pluginhost

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-exec")
	if err := os.WriteFile(notExec, []byte("#!/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrongSHA := strings.Repeat("ab", 32)
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		cfg     ProviderConfig
		wantErr string // exact message; "" = no error
		wantIs  error
	}{
		{
			name: "good",
			cfg:  ProviderConfig{Name: "loop", Plugin: binaries.loopback, SHA256: binaries.loopbackSHA},
		},
		{
			name: "upper-case checksum",
			cfg:  ProviderConfig{Name: "loop", Plugin: binaries.loopback, SHA256: strings.ToUpper(binaries.loopbackSHA)},
		},
		{
			name:    "missing binary",
			cfg:     ProviderConfig{Name: "twilio", Plugin: missing, SHA256: wrongSHA},
			wantErr: `provider "twilio": plugin binary ` + missing + ` not found`,
			wantIs:  fs.ErrNotExist,
		},
		{
			name: "missing binary in plugin_dir",
			cfg:  ProviderConfig{Name: "echo", Plugin: filepath.Join(dir, "smsgw-provider-echo"), PluginDir: dir, Dev: true},
			wantErr: `provider "echo": plugin binary ` + filepath.Join(dir, "smsgw-provider-echo") +
				` not found (plugin "smsgw-provider-echo" is looked up in plugin_dir ` + dir + `)`,
			wantIs: fs.ErrNotExist,
		},
		{
			name:    "missing binary in dev mode",
			cfg:     ProviderConfig{Name: "twilio", Plugin: missing, Dev: true},
			wantErr: `provider "twilio": plugin binary ` + missing + ` not found`,
			wantIs:  fs.ErrNotExist,
		},
		{
			name: "wrong sha256",
			cfg:  ProviderConfig{Name: "twilio", Plugin: binaries.loopback, SHA256: wrongSHA},
			wantErr: `provider "twilio": sha256 mismatch: config says ` + wrongSHA +
				`, file ` + binaries.loopback + ` has ` + binaries.loopbackSHA + " (if you built this binary yourself, " +
				"`smsgw plugin sha256 " + binaries.loopback + "` prints the sum for its provider block)",
			wantIs: ErrChecksumMismatch,
		},
		{
			name: "dev skips the checksum",
			cfg:  ProviderConfig{Name: "loop", Plugin: binaries.loopback, SHA256: wrongSHA, Dev: true},
		},
		{
			name: "dev needs no checksum",
			cfg:  ProviderConfig{Name: "loop", Plugin: binaries.loopback, Dev: true},
		},
		{
			name:    "not executable",
			cfg:     ProviderConfig{Name: "x", Plugin: notExec, Dev: true},
			wantErr: `provider "x": plugin binary ` + notExec + ` is not executable`,
		},
		{
			name:    "a directory",
			cfg:     ProviderConfig{Name: "x", Plugin: dir, Dev: true},
			wantErr: `provider "x": plugin binary ` + dir + ` is not a regular file`,
		},
		{
			name:    "relative path",
			cfg:     ProviderConfig{Name: "x", Plugin: "smsgw-provider-loopback", Dev: true},
			wantErr: `provider "x": plugin path "smsgw-provider-loopback" is not absolute`,
		},
		{
			name:    "checksum required",
			cfg:     ProviderConfig{Name: "x", Plugin: binaries.loopback},
			wantErr: `provider "x": sha256 is required unless dev = true`,
		},
		{
			name:    "checksum not hex",
			cfg:     ProviderConfig{Name: "x", Plugin: binaries.loopback, SHA256: "9f86d0"},
			wantErr: `provider "x": sha256 "9f86d0" is not 64 hex digits`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Verify error = %v\nwant %s", err, tt.wantErr)
			}
			var he *Error
			if !errors.As(err, &he) || he.Provider != tt.cfg.Name {
				t.Errorf("error %v is not an *Error for provider %q", err, tt.cfg.Name)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}
