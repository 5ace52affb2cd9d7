//go:build !linux

package blob

// checkRoom is a no-op where statfs flags are not portable; write errors
// from the datastore still surface as errs.ErrStorage.
func checkRoom(dir string, need int64) error { return nil }
