package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestChildPIDsLongName: a child whose name is longer than the 15 bytes of /proc comm is
// found by its full name, and not by another prefix.
func TestChildPIDsLongName(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary:", err)
	}
	bin := filepath.Join(t.TempDir(), "smsgw-provider-fastsmsing")
	if err := os.Symlink(sleep, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	child := cmd.Process.Pid
	for _, prefix := range []string{"smsgw-provider", "smsgw-provider-fastsmsing"} {
		if got := ChildPIDs(os.Getpid(), prefix); !slices.Contains(got, child) {
			t.Errorf("ChildPIDs(self, %q) = %v, want it to hold %d", prefix, got, child)
		}
	}
	if got := ChildPIDs(os.Getpid(), "smsgw-provider-loopback"); slices.Contains(got, child) {
		t.Errorf("ChildPIDs(self, loopback prefix) = %v, holds the fastsmsing child %d", got, child)
	}
}
