package spec

import (
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"
)

// Limits on module references.
const (
	// MaxModuleNameLen bounds the name part of a name@version reference.
	MaxModuleNameLen = 128
	// MaxModuleVersionLen bounds the version part of a name@version reference.
	MaxModuleVersionLen = 64
)

// Module references the WebAssembly module a job runs: either directly by
// CID, or by name and version ("wordcount@1.2.0") to be resolved to a CID by
// the coordinator. Exactly one of CID and Name is set in a valid reference;
// the zero Module references nothing.
type Module struct {
	// CID is the module's content identifier.
	CID cid.Cid
	// Name is a lowercase name: letters, digits and ".", "_", "-", "/"
	// inside (not at either end), at most MaxModuleNameLen bytes.
	Name string
	// Version accompanies Name: letters, digits and ".", "_", "-", "+",
	// starting with a letter or digit, at most MaxModuleVersionLen bytes.
	Version string
}

// ParseModule parses "CID" or "name@version".
func ParseModule(s string) (Module, error) {
	if name, version, ok := strings.Cut(s, "@"); ok {
		m := Module{Name: name, Version: version}
		if err := m.validate(); err != nil {
			return Module{}, err
		}
		return m, nil
	}
	c, err := cid.Decode(s)
	if err != nil {
		return Module{}, fmt.Errorf("%q is neither a CID nor name@version", s)
	}
	return Module{CID: c}, nil
}

// IsZero reports whether m references nothing.
func (m Module) IsZero() bool { return !m.CID.Defined() && m.Name == "" && m.Version == "" }

// IsCID reports whether m references its module by CID.
func (m Module) IsCID() bool { return m.CID.Defined() }

// String returns the canonical form: the CID's string form, or name@version.
func (m Module) String() string {
	if m.CID.Defined() {
		return m.CID.String()
	}
	if m.IsZero() {
		return ""
	}
	return m.Name + "@" + m.Version
}

func (m Module) validate() error {
	switch {
	case m.IsZero():
		return fmt.Errorf("is required")
	case m.CID.Defined() && (m.Name != "" || m.Version != ""):
		return fmt.Errorf("sets both a CID and a name")
	case m.CID.Defined():
		return nil
	}
	if !validModuleName(m.Name) {
		return fmt.Errorf("%q: module name must be 1-%d lowercase letters, digits, '.', '_', '-' or '/', not starting or ending with punctuation", m.String(), MaxModuleNameLen)
	}
	if !validModuleVersion(m.Version) {
		return fmt.Errorf("%q: module version must be 1-%d letters, digits, '.', '_', '-' or '+', starting with a letter or digit", m.String(), MaxModuleVersionLen)
	}
	return nil
}

func validModuleName(s string) bool {
	if s == "" || len(s) > MaxModuleNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		punct := c == '.' || c == '_' || c == '-' || c == '/'
		if !alnum && !(punct && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return true
}

func validModuleVersion(s string) bool {
	if s == "" || len(s) > MaxModuleVersionLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		punct := c == '.' || c == '_' || c == '-' || c == '+'
		if !alnum && !(punct && i > 0) {
			return false
		}
	}
	return true
}
