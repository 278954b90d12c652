package replica

// Term returns the term the replica follows: the term given to operations
// it logs as primary, and the lowest term whose replicated entries it
// accepts.
func (r *Replica) Term() uint64 { return r.term.Load() }

// Closed reports whether Close has started.
func (r *Replica) Closed() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}
