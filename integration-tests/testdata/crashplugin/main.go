// Command crashplugin is a provider plugin that crashes at start-up, before the go-plugin
// handshake: its constructor panics, as a plugin failing to load its state might.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func main() {
	sdk.Serve(func(hclog.Logger) sdk.Provider {
		panic("crashplugin: cannot load state")
	})
}
