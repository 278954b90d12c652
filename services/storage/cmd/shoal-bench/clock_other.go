//go:build !linux

package main

import "time"

// threadCPU is unavailable off Linux: the bench times wall clock there.
func threadCPU() (time.Duration, bool) { return 0, false }
