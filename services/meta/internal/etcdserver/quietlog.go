package etcdserver

import (
	"sync/atomic"

	"go.uber.org/zap/zapcore"
)

// shutdownCore lowers etcd's warnings and errors to info once the member is
// closing: etcd reports every listener it closes as a failure ("setting up
// serving from embedded etcd failed", "use of closed network connection"),
// which is noise in a deliberate shutdown. They remain visible at debug.
type shutdownCore struct {
	zapcore.Core
	closing *atomic.Bool
}

func (c shutdownCore) With(fields []zapcore.Field) zapcore.Core {
	return shutdownCore{Core: c.Core.With(fields), closing: c.closing}
}

func (c shutdownCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.closing.Load() && e.Level >= zapcore.WarnLevel && e.Level < zapcore.DPanicLevel {
		e.Level = zapcore.InfoLevel
	}
	return c.Core.Check(e, ce)
}
