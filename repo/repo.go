package repo

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// File and folder names inside a repo.
const (
	ConfigFile   = "config.yaml"
	IdentityFile = "identity.key"
	BlocksDir    = "blocks"
	MetaDir      = "meta"
	LockFile     = "repo.lock"
	APIFile      = "api"
	GatewayFile  = "gateway"
)

// Sentinel errors.
var (
	// ErrNotInitialized means the folder holds no repo; run 'ipdm init'.
	ErrNotInitialized = errors.New("repo not initialized")
	// ErrExists means Init found a repo already there.
	ErrExists = errors.New("repo already exists")
	// ErrLocked means another process holds the repo lock.
	ErrLocked = errors.New("repo is locked by another process")
)

// Repo is an opened, locked node repo.
type Repo struct {
	path   string
	config Config
	key    ed25519.PrivateKey
	lock   *os.File
}

// InitOptions tunes Init.
type InitOptions struct {
	// Config is written as the initial config file (defaults applied).
	Config Config
	// Key, when set, is used instead of a freshly generated identity.
	Key ed25519.PrivateKey
}

// Init creates a repo at path: identity, config and store folders. It fails
// with ErrExists when a config is already there.
func Init(path string, opts InitOptions) error {
	if err := opts.Config.Validate(); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if _, err := os.Stat(filepath.Join(path, ConfigFile)); err == nil {
		return fmt.Errorf("init %s: %w", path, ErrExists)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	key := opts.Key
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return fmt.Errorf("init: generate identity: %w", err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("init: encode identity: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileAtomic(filepath.Join(path, IdentityFile), pemBytes, 0o600); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	for _, d := range []string{BlocksDir, MetaDir} {
		if err := os.MkdirAll(filepath.Join(path, d), 0o700); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	// The config goes last: its presence marks a complete repo.
	if err := writeFileAtomic(filepath.Join(path, ConfigFile), opts.Config.Render(), 0o600); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

// Exists reports whether path holds an initialized repo.
func Exists(path string) bool {
	_, err := os.Stat(filepath.Join(path, ConfigFile))
	return err == nil
}

// Open locks and reads the repo at path. Close releases the lock.
func Open(path string) (*Repo, error) {
	if !Exists(path) {
		return nil, fmt.Errorf("open %s: %w", path, ErrNotInitialized)
	}
	lock, err := acquireLock(filepath.Join(path, LockFile))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r := &Repo{path: path, lock: lock}
	if err := r.load(); err != nil {
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return r, nil
}

func (r *Repo) load() error {
	data, err := os.ReadFile(filepath.Join(r.path, ConfigFile))
	if err != nil {
		return err
	}
	if r.config, err = ParseConfig(data); err != nil {
		return err
	}
	r.key, err = ReadIdentity(r.path)
	return err
}

// ReadIdentity reads the identity key of the repo at path without locking it.
func ReadIdentity(path string) (ed25519.PrivateKey, error) {
	file := filepath.Join(path, IdentityFile)
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("identity: %s is readable by others (mode %v); run chmod 600", file, st.Mode().Perm())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("identity: %s is not a PEM private key", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: %s holds a %T key, want Ed25519", file, k)
	}
	return ek, nil
}

// Path is the repo folder.
func (r *Repo) Path() string { return r.path }

// Config is the parsed config file (defaults not applied).
func (r *Repo) Config() Config { return r.config }

// Key is the node's identity.
func (r *Repo) Key() ed25519.PrivateKey { return r.key }

// BlocksPath is the block store folder.
func (r *Repo) BlocksPath() string { return filepath.Join(r.path, BlocksDir) }

// MetaPath is the metadata store folder.
func (r *Repo) MetaPath() string { return filepath.Join(r.path, MetaDir) }

// Close releases the lock. It is safe to call twice.
func (r *Repo) Close() error {
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close() // closing the descriptor drops the flock
	r.lock = nil
	return err
}

// WriteAddr records a running listener's address in the named file
// (APIFile or GatewayFile).
func (r *Repo) WriteAddr(name, hostport string) error {
	return writeFileAtomic(filepath.Join(r.path, name), []byte(hostport+"\n"), 0o600)
}

// RemoveAddr deletes an address file; a missing file is not an error.
func (r *Repo) RemoveAddr(name string) error {
	err := os.Remove(filepath.Join(r.path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// ReadAddr returns the address in the named file of the repo at path, or
// fs.ErrNotExist when no daemon wrote one.
func ReadAddr(path, name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(path, name))
	if err != nil {
		return "", err
	}
	addr := strings.TrimSpace(string(data))
	if addr == "" {
		return "", fmt.Errorf("%s file is empty", name)
	}
	return addr, nil
}

func acquireLock(file string) (*os.File, error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(file)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid := strings.TrimSpace(string(owner)); pid != "" {
				return nil, fmt.Errorf("%w (pid %s)", ErrLocked, pid)
			}
			return nil, ErrLocked
		}
		return nil, err
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// writeFileAtomic writes data via a temporary file, fsync and rename, so a
// crash leaves either the old or the new content.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
