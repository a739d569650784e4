// Command sleeper is not a plugin: it never writes the go-plugin handshake and never exits,
// like a hung binary.
package main

import "time"

func main() {
	time.Sleep(time.Hour)
}
