package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Causes the start-up errors wrap, for errors.Is; their texts are the *Error's (README.md,
// "Start-up failures", documents them).
var (
	// ErrChecksumMismatch: the binary's sha256 differs from the provider block's.
	ErrChecksumMismatch = errors.New("sha256 mismatch")
	// ErrProtocolMismatch: the plugin speaks a plugin protocol version the host does not.
	ErrProtocolMismatch = errors.New("plugin protocol mismatch")
)

// Error names the provider whose plugin failed to verify or start, so that `smsgw config
// check` and `smsgw serve` can print one clear line.
type Error struct {
	Provider string
	Err      error
}

func (e *Error) Error() string { return fmt.Sprintf("provider %q: %v", e.Provider, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// reason is an error whose text is written for the operator while it still unwraps to the
// underlying cause (fs.ErrNotExist ...) for errors.Is.
type reason struct {
	text  string
	cause error
}

func (r *reason) Error() string { return r.text }
func (r *reason) Unwrap() error { return r.cause }

// Verify checks a provider's plugin binary without starting it: the path is absolute, the file
// exists, is a regular executable file, and (unless Dev) its sha256 matches the config.
// Failures are *Error naming the provider.
func Verify(p ProviderConfig) error {
	if err := verify(p); err != nil {
		return &Error{Provider: p.Name, Err: err}
	}
	return nil
}

func verify(p ProviderConfig) error {
	if !filepath.IsAbs(p.Plugin) {
		// A bare name would make exec search $PATH, which is not the binary the checksum is for.
		return fmt.Errorf("plugin path %q is not absolute", p.Plugin)
	}
	var want []byte
	if !p.Dev {
		var err error
		if want, err = parseSHA256(p.SHA256); err != nil {
			return err
		}
	}
	fi, err := os.Stat(p.Plugin)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &reason{text: notFound(p), cause: err}
	case err != nil:
		return fmt.Errorf("plugin binary %s: %w", p.Plugin, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("plugin binary %s is not a regular file", p.Plugin)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("plugin binary %s is not executable", p.Plugin)
	}
	if p.Dev {
		return nil
	}
	got, err := fileSHA256(p.Plugin)
	if err != nil {
		return err
	}
	if !strings.EqualFold(hex.EncodeToString(want), got) {
		return &reason{text: mismatch(p, got), cause: ErrChecksumMismatch}
	}
	return nil
}

// notFound says where the binary was looked for: a bare plugin name is looked up in
// plugin_dir, which is the setting to check when the build went elsewhere.
func notFound(p ProviderConfig) string {
	if p.PluginDir != "" {
		return fmt.Sprintf("plugin binary %s not found (plugin %q is looked up in plugin_dir %s)",
			p.Plugin, filepath.Base(p.Plugin), p.PluginDir)
	}
	return fmt.Sprintf("plugin binary %s not found", p.Plugin)
}

// mismatch says both sums and how to take the one to trust. got is "" when the file changed
// between Verify and exec (go-plugin's own check caught it), so its sum is unknown.
func mismatch(p ProviderConfig, got string) string {
	has := "has " + got
	if got == "" {
		has = "changed since it was checked"
	}
	return fmt.Sprintf("sha256 mismatch: config says %s, file %s %s (if you built this binary yourself, "+
		"`smsgw plugin sha256 %s` prints the sum for its provider block)", strings.ToLower(p.SHA256), p.Plugin, has, p.Plugin)
}

func parseSHA256(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("sha256 is required unless dev = true")
	}
	sum, err := hex.DecodeString(s)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("sha256 %q is not %d hex digits", s, 2*sha256.Size)
	}
	return sum, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open plugin binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash plugin binary %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
