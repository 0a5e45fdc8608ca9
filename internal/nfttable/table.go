// Package nfttable keeps an nftables table as plain data (a Ruleset) and turns
// one Ruleset into another with the fewest operations, so that a change to one
// object costs a few set elements or one chain rather than the whole table. The
// service proxy and the network-policy agent both build their tables with it.
package nfttable

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/knftables"
)

// Ruleset is the complete desired content of a table. It is plain data so the rule
// computation can be tested without a kernel, and so the next sync can be diffed
// against what the last one applied.
type Ruleset struct {
	Chains map[string]*Chain
	Sets   map[string]*Set // sets and maps, by name
}

// Chain is a regular chain (Hook empty) or a base chain.
type Chain struct {
	Hook     knftables.BaseChainHook
	Type     knftables.BaseChainType
	Priority int
	Rules    []string
}

// Set is a set or, when Map is set, a map. Dynamic sets are filled from the packet
// path (such as session affinity); their elements are never touched by a sync.
type Set struct {
	Map      bool
	Type     string
	Flags    []knftables.SetFlag
	Timeout  time.Duration
	Size     uint64
	Elements map[string]string // key ("a . b . c") → value ("" in a set)
}

// New returns an empty Ruleset.
func New() *Ruleset {
	return &Ruleset{Chains: map[string]*Chain{}, Sets: map[string]*Set{}}
}

// AddChain adds a regular chain with rules, replacing one of the same name.
func (r *Ruleset) AddChain(name string, rules ...string) {
	r.Chains[name] = &Chain{Rules: rules}
}

// AddRule appends a rule, its words joined by knftables.Concat, to an existing chain.
func (r *Ruleset) AddRule(chain string, rule ...any) {
	c := r.Chains[chain]
	c.Rules = append(c.Rules, knftables.Concat(rule...))
}

// AddElement puts key (and, in a map, its value) into an existing set.
func (r *Ruleset) AddElement(set, key, value string) {
	r.Sets[set].Elements[key] = value
}

// sameDefinition reports whether two sets can be turned into one another by
// changing elements only.
func (s *Set) sameDefinition(o *Set) bool {
	return s.Map == o.Map && s.Type == o.Type && slices.Equal(s.Flags, o.Flags) &&
		s.Timeout == o.Timeout && s.Size == o.Size
}

func (c *Chain) sameDefinition(o *Chain) bool {
	return c.Hook == o.Hook && c.Type == o.Type && c.Priority == o.Priority
}

// Plan fills tx with the operations that turn the table from old (nil: unknown or
// absent) into want. Unchanged chains and elements are left alone, so a change to
// one object costs a few operations however many Services exist, and affinity
// state in dynamic sets survives. It returns false when old cannot be patched into
// want (a base chain or set changed its definition) and the caller must rebuild.
//
// Operations are ordered so that nothing is referenced before it exists nor deleted
// while still referenced: chains and sets first, then element removals, rules and
// element additions, and the deletion of stale objects last.
func Plan(tx *knftables.Transaction, old, want *Ruleset) bool {
	if old == nil {
		old = New()
	}
	if !compatible(old, want) {
		return false
	}
	tx.Add(&knftables.Table{})
	changed := planChains(tx, old, want)
	for _, name := range missing(want.Sets, old.Sets) {
		tx.Add(setObject(name, want.Sets[name]))
	}
	planElements(tx, old, want, false)
	for _, name := range changed {
		for _, rule := range want.Chains[name].Rules {
			tx.Add(&knftables.Rule{Chain: name, Rule: rule})
		}
	}
	planElements(tx, old, want, true)
	for _, name := range missing(old.Sets, want.Sets) {
		tx.Delete(setObject(name, old.Sets[name]))
	}
	for _, name := range missing(old.Chains, want.Chains) {
		tx.Delete(&knftables.Chain{Name: name})
	}
	return true
}

func compatible(old, want *Ruleset) bool {
	for name, c := range want.Chains {
		if o := old.Chains[name]; o != nil && !o.sameDefinition(c) {
			return false
		}
	}
	for name, s := range want.Sets {
		if o := old.Sets[name]; o != nil && !o.sameDefinition(s) {
			return false
		}
	}
	return true
}

// planChains adds new chains and flushes changed and stale ones; it returns the
// chains whose rules must be (re)written.
func planChains(tx *knftables.Transaction, old, want *Ruleset) []string {
	var changed []string
	for name, c := range want.Chains {
		if o := old.Chains[name]; o == nil || !slices.Equal(o.Rules, c.Rules) {
			changed = append(changed, name)
		}
	}
	// Sorted for a readable transaction; only the changes are sorted, so a sync
	// costs little when little changed.
	slices.Sort(changed)
	for _, name := range changed {
		if old.Chains[name] == nil {
			tx.Add(chainObject(name, want.Chains[name]))
		} else {
			tx.Flush(&knftables.Chain{Name: name})
		}
	}
	for _, name := range missing(old.Chains, want.Chains) {
		// Flushed now so that its jumps release the chains and sets it uses.
		tx.Flush(&knftables.Chain{Name: name})
	}
	return changed
}

// planElements removes stale and changed elements (adding == false) or adds new
// and changed ones (adding == true) of the static sets and maps.
func planElements(tx *knftables.Transaction, old, want *Ruleset, adding bool) {
	for _, name := range SortedKeys(want.Sets) {
		s := want.Sets[name]
		var before map[string]string
		if o := old.Sets[name]; o != nil {
			before = o.Elements
		}
		from, to := before, s.Elements
		if adding {
			from, to = s.Elements, before
		}
		var keys []string
		for key, v := range from {
			if w, ok := to[key]; !ok || w != v {
				keys = append(keys, key)
			}
		}
		slices.Sort(keys)
		for _, key := range keys {
			if adding {
				tx.Add(elementObject(name, s, key, s.Elements[key]))
			} else {
				tx.Delete(elementObject(name, s, key, ""))
			}
		}
	}
}

// missing returns the keys of a that b lacks, sorted.
func missing[V any](a, b map[string]V) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func chainObject(name string, c *Chain) *knftables.Chain {
	ch := &knftables.Chain{Name: name}
	if c.Hook != "" {
		ch.Type = knftables.PtrTo(c.Type)
		ch.Hook = knftables.PtrTo(c.Hook)
		// A number, because nft 1.0.6 rejects the named "dstnat" on the output hook.
		ch.Priority = knftables.PtrTo(knftables.BaseChainPriority(fmt.Sprint(c.Priority)))
	}
	return ch
}

func setObject(name string, s *Set) knftables.Object {
	var timeout *time.Duration
	if s.Timeout > 0 {
		timeout = knftables.PtrTo(s.Timeout)
	}
	var size *uint64
	if s.Size > 0 {
		size = knftables.PtrTo(s.Size)
	}
	if s.Map {
		return &knftables.Map{Name: name, Type: s.Type, Flags: s.Flags, Timeout: timeout, Size: size}
	}
	return &knftables.Set{Name: name, Type: s.Type, Flags: s.Flags, Timeout: timeout, Size: size}
}

func elementObject(name string, s *Set, key, value string) *knftables.Element {
	e := &knftables.Element{Key: strings.Split(key, " . ")}
	if s.Map {
		e.Map = name
		if value != "" {
			e.Value = []string{value}
		}
	} else {
		e.Set = name
	}
	return e
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
