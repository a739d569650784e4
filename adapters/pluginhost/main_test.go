package pluginhost

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binaries are the real plugin processes the tests start, built once in TestMain. A package
// variable because TestMain cannot hand anything to the tests otherwise.
var binaries struct {
	loopback, loopbackSHA string
	exit1, sleeper        string
	protov2, protov2SHA   string
	infov2, infov2SHA     string
	stuckConfigure        string
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := func(name, pkg string) (string, error) {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("build %s: %w", pkg, err)
		}
		return out, nil
	}
	for _, b := range []struct {
		dst      *string
		name     string
		pkg      string
		checksum *string
	}{
		{&binaries.loopback, "smsgw-provider-loopback", "github.com/smsgw/smsgw/plugins/loopback", &binaries.loopbackSHA},
		{&binaries.exit1, "exit1", "./testdata/exit1", nil},
		{&binaries.sleeper, "sleeper", "./testdata/sleeper", nil},
		{&binaries.protov2, "protov2", "./testdata/protov2", &binaries.protov2SHA},
		{&binaries.infov2, "infov2", "./testdata/infov2", &binaries.infov2SHA},
		{&binaries.stuckConfigure, "stuckconfigure", "./testdata/stuckconfigure", nil},
	} {
		if *b.dst, err = build(b.name, b.pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if b.checksum != nil {
			if *b.checksum, err = fileSHA256(*b.dst); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}
