//go:build !linux

package clients

import "syscall"

// setUserTimeout is Linux-only; elsewhere keep-alive probes alone bound a
// dead peer (see dial.go).
func setUserTimeout(_, _ string, _ syscall.RawConn) error { return nil }
