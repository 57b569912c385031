// Package spec owns the job spec: the document a user submits to run a
// WebAssembly module on content in the network.
//
// A spec is versioned (apiVersion "ipdm/v1", kind "Job") and written in YAML
// or JSON:
//
//	apiVersion: ipdm/v1
//	kind: Job
//	module: bafkreih…            # or name@version, e.g. wordcount@1.2.0
//	inputs:
//	  - cid: bafybei…
//	    name: corpus.txt         # optional; defaults to the CID string
//	args: [--top, 10]
//	env: {LANG: C}
//	resources:
//	  memory: 64MiB              # bytes, or a size with a unit
//	  fuel: 1000000000
//	  timeouts: {queue: 1m, execution: 5m, total: 15m}
//	replicas: 3                  # K distinct executors
//	quorum: 2                    # default: majority of K
//	constraints:
//	  labels: {region: eu}
//	  roles: [processing]
//	publisher: {local: true, pin_on: 2}
//	seed: 42                     # optional
//
// [Decode] parses and validates a document strictly and reports every
// problem at once in a [*FieldErrors], each with a path such as
// "spec.resources.memory". [Spec.Validate] checks a Spec built in code.
// [Spec.WithDefaults] fills the defaults; [Spec.Encode] returns the
// canonical JSON encoding; [Spec.Digest] and [Spec.ID] hash the canonical
// encoding of the defaulted spec, so that every spelling of the same job has
// the same digest and ID.
//
// The package is pure: no I/O, no goroutines, no clock. Spec values are
// plain data, safe to share once built; Clone makes a deep copy.
package spec
