// Command exit1 is not a plugin: it fails at once, like a binary built for the wrong purpose.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "exit1: not a plugin")
	os.Exit(1)
}
