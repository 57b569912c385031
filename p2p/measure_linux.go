//go:build linux

package p2p

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// totalMemory returns MemTotal from /proc/meminfo, or 0 if unreadable.
func totalMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemTotal:" {
			kb, err := strconv.ParseUint(string(f[1]), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// freeDisk returns the bytes available to unprivileged users on the file
// system holding path, or 0 if path is empty or cannot be inspected.
func freeDisk(path string) uint64 {
	if path == "" {
		return 0
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}
