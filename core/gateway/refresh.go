package gateway

// RefreshResult is what a status refresh did.
type RefreshResult struct{ Checked, Updated int }
