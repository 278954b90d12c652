package payloadindex

import (
	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// Plan is what the indexes can tell about a filter: when Known, at most
// Estimate points match and all of them are among Keys(). Keys are a
// superset: every candidate must still be checked against the filter.
type Plan struct {
	Known    bool
	Estimate int
	keys     func() []string
}

// Keys returns the candidate point keys (distinct, in no order); nil when
// the plan is not Known.
func (p Plan) Keys() []string {
	if !p.Known {
		return nil
	}
	return p.keys()
}

var unknown = Plan{}

// Plan narrows f with the indexes. Conditions of a must (or of the filter
// itself) narrow by intersection: the plan takes the most selective one.
// A should or min_should narrows only when every one of its conditions
// does (the union). must_not, is_empty, is_null, values_count, nested and
// has_vector never narrow; has_id narrows to its ids.
func (s *Set) Plan(f *filter.Filter) Plan {
	if f == nil {
		return unknown
	}
	best := unknown
	consider := func(p Plan) {
		if p.Known && (!best.Known || p.Estimate < best.Estimate) {
			best = p
		}
	}
	for _, c := range f.Must {
		consider(s.planCondition(c))
	}
	if len(f.Should) > 0 {
		consider(s.union(f.Should))
	}
	if f.MinShould != nil && f.MinShould.MinCount > 0 {
		consider(s.union(f.MinShould.Conditions))
	}
	return best
}

// union plans "one of conds": known only if each is.
func (s *Set) union(conds []*filter.Condition) Plan {
	plans := make([]Plan, 0, len(conds))
	total := 0
	for _, c := range conds {
		p := s.planCondition(c)
		if !p.Known {
			return unknown
		}
		plans = append(plans, p)
		total += p.Estimate
	}
	return Plan{Known: true, Estimate: total, keys: func() []string {
		seen := map[string]struct{}{}
		var out []string
		for _, p := range plans {
			for _, k := range p.keys() {
				if _, dup := seen[k]; !dup {
					seen[k] = struct{}{}
					out = append(out, k)
				}
			}
		}
		return out
	}}
}

func (s *Set) planCondition(c *filter.Condition) Plan {
	switch {
	case c.Field != nil:
		f, ok := s.fields[c.Field.Key.String()]
		if !ok {
			return unknown
		}
		a, ok := f.answer(c.Field)
		if !ok {
			return unknown
		}
		return Plan{Known: true, Estimate: a.estimate(), keys: a.keys}
	case c.HasID != nil:
		ids := c.HasID
		return Plan{Known: true, Estimate: len(ids), keys: func() []string {
			out := make([]string, 0, len(ids))
			for k := range ids {
				out = append(out, k)
			}
			return out
		}}
	case c.Filter != nil:
		return s.Plan(c.Filter)
	}
	return unknown
}
