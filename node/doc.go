// Package node assembles an IPDM node from its parts and owns their start and
// stop order: repo → block store → metadata store and pins → (online only)
// libp2p host with DHT, gossipsub and bitswap → block service → HTTP API and
// trustless gateway. Close runs the same list backwards.
//
// A Node opened with Online false has no network: the CLI uses it to work on
// a repo directly when no daemon runs. Every operation (Add, Cat, PinAdd, …)
// works the same in both modes; those that need the network (SwarmConnect)
// fail offline with ErrOffline.
//
// Node methods are safe for concurrent use. Start and Close are called once
// each by the owner; Close is idempotent.
package node
