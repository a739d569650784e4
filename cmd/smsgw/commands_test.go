package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// runCmd runs the CLI in-process with the given stdin and returns stdout, stderr and the error.
func runCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, streams{in: strings.NewReader(stdin), out: &out, err: &errOut}, map[string]string{})
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"frobnicate"},
		{"config"},
		{"config", "fix"},
		{"accounts"},
		{"accounts", "add"},
		{"plugin", "sha256"},
		{"plugin", "md5", "x"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			_, _, err := runCmd(t, "", args...)
			if !errors.Is(err, errUsage) {
				t.Fatalf("run(%q) = %v, want a usage error", args, err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, "", "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "smsgw "+version+" (commit "+commit) {
		t.Fatalf("version output %q", out)
	}
}

func TestPluginSHA256(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin")
	writeFile(t, path, "binary content", 0o755)
	sum := sha256.Sum256([]byte("binary content"))
	out, _, err := runCmd(t, "", "plugin", "sha256", path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %q", out)
	}
	if _, _, err := runCmd(t, "", "plugin", "sha256", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("no error for a missing file")
	}
}

func TestAccountsHash(t *testing.T) {
	out, _, err := runCmd(t, "s3cret\n", "accounts", "hash")
	if err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out)), []byte("s3cret")); err != nil {
		t.Fatalf("hash %q does not verify: %v", out, err)
	}
	for _, in := range []string{"", "\n", strings.Repeat("x", 73)} {
		if _, _, err := runCmd(t, in, "accounts", "hash"); err == nil {
			t.Errorf("accounts hash accepted %q", in)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "smsgw-provider-loopback")
	writeFile(t, plugin, "#!/bin/sh\n", 0o755)
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	good := hex.EncodeToString(sum[:])

	config := func(pluginLine string) string {
		return `
plugin_dir = "` + dir + `"
storage {
  driver = "sqlite"
  dsn    = "` + filepath.Join(dir, "db") + `"
}
provider "loop" {
  ` + pluginLine + `
}
account "dev" {
  password_bcrypt = "$2a$10$RMaLIAFZ1K095ghUFeOVa.gSpVrcWue/f5ZvDaZoFdmlkytmeYn0W"
}
`
	}
	tests := []struct {
		name    string
		config  string
		wantErr []string // substrings; none = success
	}{
		{name: "good", config: config(`plugin = "smsgw-provider-loopback"` + "\n" + `sha256 = "` + good + `"`)},
		{name: "dev without checksum", config: config(`plugin = "smsgw-provider-loopback"` + "\n" + `dev = true`)},
		{
			name:    "checksum mismatch",
			config:  config(`plugin = "smsgw-provider-loopback"` + "\n" + `sha256 = "` + strings.Repeat("0", 64) + `"`),
			wantErr: []string{`"loop"`, "sha256"},
		},
		{
			name:    "missing binary",
			config:  config(`plugin = "smsgw-provider-nope"` + "\n" + `dev = true`),
			wantErr: []string{`"loop"`, "smsgw-provider-nope", "not found"},
		},
		{
			name:    "checksum required outside dev",
			config:  config(`plugin = "smsgw-provider-loopback"`),
			wantErr: []string{"loop", "sha256"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "smsgw.hcl")
			writeFile(t, path, tt.config, 0o644)
			out, _, err := runCmd(t, "", "config", "check", "-config", path)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("config check: %v", err)
				}
				if !strings.HasPrefix(out, "config ok") {
					t.Fatalf("output %q", out)
				}
				return
			}
			if err == nil {
				t.Fatal("config check passed")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
