// Package gateway is the HTTP surface of the ipdm daemon: a read-only IPFS
// Trustless Gateway for content, and the admin JSON API (files api*.go).
//
// # Trustless gateway
//
// NewTrustless builds an http.Handler implementing
// https://specs.ipfs.tech/http-gateways/trustless-gateway/ over a
// blockservice.BlockService: GET and HEAD /ipfs/{cid} as a raw block
// (application/vnd.ipld.raw) and /ipfs/{cid}[/{path}] as a CAR stream
// (application/vnd.ipld.car) with dag-scope and entity-bytes. Clients verify
// every byte against the CIDs, so the gateway needs no trust. It is a thin
// layer over boxo/gateway (trustless mode) that adds options with daemon
// defaults (request timeout into 504, concurrency cap into 429, no-fetch
// mode), confines the handler to /ipfs/, and fixes the spec points listed on
// trustlessBackend. Mount it on the daemon's mux at "/ipfs/":
//
//	h, err := gateway.NewTrustless(node.BlockService(), gateway.TrustlessOptions{})
//	mux.Handle("/ipfs/", metrics.Wrap("trustless", h))
//
// # Errors
//
// errors.go is the single place mapping errors to HTTP status codes for the
// whole package (statusFor) and writing error responses (writeError): JSON
// {"error", "hint"} for the API, text/plain for the gateway namespaces.
// Handlers wrap ErrNotFound, ErrBadRequest or ErrTooLarge with %w to pick
// 404, 400 or 413; context deadlines become 504, everything else 500.
//
// # Metrics
//
// NewMetrics registers request counters, latency histograms and in-flight
// gauges on a caller-supplied Prometheus registry (never the global one);
// Metrics.Wrap instruments any handler under a name.
//
// # Concurrency
//
// All handlers and Metrics are safe for concurrent use. Nothing in the
// package starts goroutines outside of serving a request; those started for
// a request (timeouts, CAR streaming) end when the request ends, because they
// watch the request context, which net/http cancels when ServeHTTP returns.
package gateway
