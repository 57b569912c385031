// Package modules is the module registry: signed records that bind a
// human name and version (wordcount@1.2.0) to the CID of a Wasm module's
// bytes, and the local store of the records a node has accepted.
//
// A record is signed by the publishing node's Ed25519 identity; anyone can
// check it offline (Verify). Two rules keep names trustworthy without a
// central authority:
//
//   - name@version is immutable: once a node accepted a record for it, a
//     record binding it to another CID is rejected (ErrConflict);
//   - a name belongs to the first publisher key a node saw claim it: other
//     publishers cannot add versions under it (ErrNotOwner).
//
// Records travel between nodes as Encode'd bytes; Decode checks size,
// syntax and signature before anything else looks at them.
//
// Registry is safe for concurrent use.
package modules
