// Package repo owns a node's on-disk home: its identity key, its config file,
// the folders of its block and metadata stores, the lock that keeps one
// process at a time on it, and the address files (api, gateway) a running
// daemon leaves so the CLI and scripts can find it.
//
// Layout of a repo folder:
//
//	config.yaml     documented configuration (see Config)
//	identity.key    Ed25519 private key, PKCS#8 PEM, mode 0600
//	blocks/         block store (flatfs, one file per block)
//	meta/           metadata store (pebble): pins, later jobs and reputation
//	repo.lock       flock(2) held by whichever process has the repo open
//	api, gateway    "host:port" of a running daemon's listeners; removed on clean exit
//
// A Repo value is not safe for concurrent Close; everything else is read-only
// after Open.
package repo
