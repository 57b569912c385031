// Command fsprobe probes the sandbox's file systems for the tests:
//
//	fsprobe list DIR      print the names in DIR, in the order read
//	fsprobe cat FILE      print FILE
//	fsprobe fill N        write N-byte chunks to /outputs/fill until a write fails
//	fsprobe files N       create N empty files under /outputs
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fsprobe list|cat|fill|files ARG")
		os.Exit(2)
	}
	arg := os.Args[2]
	switch os.Args[1] {
	case "list":
		f, err := os.Open(arg)
		if err != nil {
			fail(err)
		}
		for {
			// Small batches: the sandbox must keep its order across reads.
			names, err := f.Readdirnames(7)
			for _, n := range names {
				fmt.Println(n)
			}
			if err != nil || len(names) == 0 {
				break
			}
		}
	case "cat":
		b, err := os.ReadFile(arg)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(b)
	case "fill":
		n, _ := strconv.Atoi(arg)
		f, err := os.Create("/outputs/fill")
		if err != nil {
			fail(err)
		}
		chunk := make([]byte, n)
		total := 0
		for {
			if _, err := f.Write(chunk); err != nil {
				fmt.Printf("wrote %d, then: %v\n", total, err)
				return
			}
			total += n
		}
	case "files":
		n, _ := strconv.Atoi(arg)
		for i := range n {
			f, err := os.Create(fmt.Sprintf("/outputs/f%d", i))
			if err != nil {
				fmt.Printf("created %d, then: %v\n", i, err)
				return
			}
			f.Close()
		}
		fmt.Printf("created %d\n", n)
	}
}

func fail(err error) {
	fmt.Println("error:", err)
	os.Exit(1)
}
