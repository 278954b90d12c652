package natsserver

import (
	"fmt"

	"github.com/rs/zerolog"
)

// logAdapter writes the NATS server's log lines through zerolog. Notices
// (the start banner, listeners) go to debug: the meta node logs its NATS
// URL itself. NATS calls
// Fatalf for errors it cannot recover from within one component (such as a
// listener that cannot bind); the embedded server must not exit the
// process, so those are logged at error level with fatal=true and the
// failure surfaces through ReadyForConnections instead.
type logAdapter struct {
	log zerolog.Logger
}

func (l logAdapter) Noticef(format string, v ...any) { l.log.Debug().Msg(fmt.Sprintf(format, v...)) }
func (l logAdapter) Warnf(format string, v ...any)   { l.log.Warn().Msg(fmt.Sprintf(format, v...)) }
func (l logAdapter) Errorf(format string, v ...any)  { l.log.Error().Msg(fmt.Sprintf(format, v...)) }
func (l logAdapter) Debugf(format string, v ...any)  { l.log.Debug().Msg(fmt.Sprintf(format, v...)) }
func (l logAdapter) Tracef(format string, v ...any)  { l.log.Trace().Msg(fmt.Sprintf(format, v...)) }
func (l logAdapter) Fatalf(format string, v ...any) {
	l.log.Error().Bool("fatal", true).Msg(fmt.Sprintf(format, v...))
}
