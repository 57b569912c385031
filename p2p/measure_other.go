//go:build !linux

package p2p

// totalMemory is not measured on this platform; 0 advertises "unknown".
func totalMemory() uint64 { return 0 }

// freeDisk is not measured on this platform; 0 advertises "unknown".
func freeDisk(string) uint64 { return 0 }
