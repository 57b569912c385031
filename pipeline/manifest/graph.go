package manifest

import "slices"

// upstream returns the distinct modules mod reads (map and store inputs),
// in input order, skipping unknown names.
func upstream(mod *Module, byName map[string]*Module) []*Module {
	var out []*Module
	for _, in := range mod.Inputs {
		if in.Kind != InputMap && in.Kind != InputStore {
			continue
		}
		if up, ok := byName[in.Module]; ok && !slices.Contains(out, up) {
			out = append(out, up)
		}
	}
	return out
}

// findCycle returns a dependency cycle as module names, first name repeated
// at the end ("a", "b", "a"), and the path of the input that closes it; nil
// when the graph is acyclic. A module reading itself is reported elsewhere
// and skipped here.
func findCycle(modules []Module, byName map[string]*Module) ([]string, string) {
	const (
		white = iota
		grey
		black
	)
	color := map[*Module]int{}
	pos := map[*Module]int{}
	for i := range modules {
		if _, ok := pos[byName[modules[i].Name]]; !ok {
			pos[byName[modules[i].Name]] = i
		}
	}
	var stack []*Module
	var cycle []string
	var at string
	var visit func(m *Module) bool
	visit = func(m *Module) bool {
		color[m] = grey
		stack = append(stack, m)
		for j, in := range m.Inputs {
			if in.Kind != InputMap && in.Kind != InputStore {
				continue
			}
			up, ok := byName[in.Module]
			if !ok || up == m {
				continue
			}
			switch color[up] {
			case grey:
				k := slices.Index(stack, up)
				for _, s := range stack[k:] {
					cycle = append(cycle, s.Name)
				}
				cycle = append(cycle, up.Name)
				at = index(field(index("manifest.modules", pos[m]), "inputs"), j)
				return true
			case white:
				if visit(up) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[m] = black
		return false
	}
	for i := range modules {
		m := byName[modules[i].Name]
		if color[m] == white && visit(m) {
			return cycle, at
		}
	}
	return nil, ""
}

// Order returns the module names in a topological order — every module
// after the modules it reads — breaking ties by declaration order, so the
// order is deterministic. An invalid manifest gives its validation error.
func (m Manifest) Order() ([]string, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	byName := modulesByName(m.Modules)
	done := map[*Module]bool{}
	out := make([]string, 0, len(m.Modules))
	for len(out) < len(m.Modules) {
		for i := range m.Modules {
			mod := &m.Modules[i]
			if done[mod] {
				continue
			}
			ready := true
			for _, up := range upstream(mod, byName) {
				ready = ready && done[up]
			}
			if ready {
				done[mod] = true
				out = append(out, mod.Name)
				break
			}
		}
	}
	return out, nil
}

// Upstream returns the names of the modules that module name reads
// directly, in input order, without duplicates.
func (m Manifest) Upstream(name string) []string {
	byName := modulesByName(m.Modules)
	mod, ok := byName[name]
	if !ok {
		return nil
	}
	var out []string
	for _, up := range upstream(mod, byName) {
		out = append(out, up.Name)
	}
	return out
}

// Ancestors returns the names of every module that module name depends on,
// directly or not, in topological order. The manifest must be valid.
func (m Manifest) Ancestors(name string) []string {
	byName := modulesByName(m.Modules)
	mod, ok := byName[name]
	if !ok {
		return nil
	}
	seen := map[*Module]bool{}
	var out []string
	var visit func(*Module)
	visit = func(x *Module) {
		for _, up := range upstream(x, byName) {
			if !seen[up] {
				seen[up] = true
				visit(up)
				out = append(out, up.Name)
			}
		}
	}
	visit(mod)
	return out
}

func modulesByName(mods []Module) map[string]*Module {
	byName := make(map[string]*Module, len(mods))
	for i := range mods {
		if _, dup := byName[mods[i].Name]; !dup {
			byName[mods[i].Name] = &mods[i]
		}
	}
	return byName
}
