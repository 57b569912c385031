// Package api defines the resources of the admin HTTP API (the JSON bodies
// the daemon sends and takes) and Client, the Go client the CLI uses to talk
// to a running daemon. The server side lives in package gateway; the routes
// and their semantics are documented in docs/API.md.
//
// A Client is safe for concurrent use.
package api
