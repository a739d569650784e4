package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// TestRunGatewayUntilExit: an exit is reported with its output and status; a process that
// does not exit is killed at the timeout and reported as an error.
func TestRunGatewayUntilExit(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ctx := context.Background()

	exit, err := RunGatewayUntilExit(ctx, script("fails", `echo "smsgw: $1 $2 failed" >&2; exit 3`), "x.hcl", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if !errors.As(exit.Err, &ee) || ee.ExitCode() != 3 || exit.Output != "smsgw: serve -config failed\n" {
		t.Errorf("exit = %+v, want status 3 and the script's line", exit)
	}

	_, err = RunGatewayUntilExit(ctx, script("hangs", `echo started; exec sleep 60`), "x.hcl", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "still running") || !strings.Contains(err.Error(), "started") {
		t.Errorf("hung process: err = %v, want a still-running error with its output", err)
	}
}
