//go:build !wasip1

package guest

import "crypto/sha256"

// SHA256 returns the SHA-256 digest of data.
func SHA256(data []byte) [32]byte { return sha256.Sum256(data) }
