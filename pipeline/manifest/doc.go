// Package manifest owns the pipeline manifest: the YAML document declaring
// a DAG of WebAssembly modules that index one chain's blocks, and the
// windows and complex-event rules over their outputs.
//
//	apiVersion: ipdm/v1
//	kind: Pipeline
//	name: erc20-volume
//	segment_size: 500                  # blocks per unit of work (default 1000)
//	modules:
//	  - name: erc20_transfers
//	    kind: map                      # block or upstream output in, bytes out
//	    file: build/erc20_transfers.wasm   # relative to the manifest; or cid: bafk…
//	    entrypoint: map_transfers
//	    start_block: 17173049
//	    inputs:
//	      - source: ethereum-logs      # ethereum-block, ethereum-logs, solana-instructions
//	    output: json:ipdm.erc20.Transfers
//	  - name: volume_by_token
//	    kind: store                    # key/value state
//	    cid: bafkreih37mkjwjab7bzlxqu74idufcakiwxahrpg7caa6trvaod7yt4wmq
//	    entrypoint: store_volume       # start_block inherited: 17173049
//	    inputs:
//	      - map: erc20_transfers
//	        type: json:ipdm.erc20.Transfers   # optional; checked against the upstream output
//	      - params: "min_value=0"
//	    value_type: bigint             # bigint, int64, string, bytes
//	    update_policy: add             # set, set_if_absent, add, min, max, append
//	  - name: new_token_volume
//	    kind: map
//	    file: build/new_tokens.wasm
//	    entrypoint: map_new_tokens
//	    inputs:
//	      - map: erc20_transfers
//	      - store: volume_by_token
//	        mode: deltas               # or get: the state as of this block (default)
//	    output: json:ipdm.erc20.NewTokenVolume
//	windows:
//	  - name: hourly_volume
//	    module: erc20_transfers
//	    kind: sliding                  # or tumbling (step = size)
//	    size: 1h                       # block time, or an integer number of blocks
//	    step: 15m
//	    group_by: token_address        # optional: one result per value of this field
//	    sum: [value]                   # optional: exact totals of integer fields
//	rules:
//	  - name: quick_flip
//	    first: erc20_transfers         # an event …
//	    then: erc20_transfers          # … then another
//	    within: 10                     # blocks
//	    key: to_address                # with the same value in both rows
//
// testdata/erc20.yaml is a complete example the tests decode.
//
// [Decode] parses and validates strictly and reports every problem at once
// in a [*FieldErrors], each with a path such as
// "manifest.modules[1].inputs[0].map" and its line. [Manifest.Validate]
// checks a manifest built in code: duplicate names, unknown inputs, cycles
// (reported as the cycle's path, "a -> b -> a"), a store read where a map
// output is required and the reverse, declared input types that do not
// match the upstream output, update policies that do not fit the value type,
// start blocks before an input's start block, sources from two chains, and
// malformed windows and rules (including group_by and sum fields that are
// not field paths, or that a module without JSON rows cannot provide).
//
// [Manifest.Order] gives a deterministic topological order. [Identity]
// names a module's output by content: a CID over its binary, parameters,
// start block, inputs and the identities of the modules it reads, so equal
// work has equal identities whoever runs it, and [Identities] computes them
// for a whole manifest.
//
// The package is pure: no I/O (the caller reads the manifest and resolves
// files to CIDs), no goroutines, no clock. Values are plain data.
package manifest
