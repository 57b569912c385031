// Package jsontext writes JSON string literals for the pipeline packages
// (source, sink, window), each of which must produce exact bytes: source's
// canonical encodings determine content IDs, sink stores rows the way
// module guest libraries encode them, window emits result lines.
//
// [AppendString] appends a quoted, escaped string. What it escapes beyond
// the quote, the backslash and control characters is chosen by [Rules]:
// short \b and \f escapes, escaped U+2028 and U+2029, and what becomes of
// invalid UTF-8. The presets [Minimal], [Canonical] and [EncodingJSON] are
// the three sets of rules the pipeline uses; a package picks one and never
// mixes them, since a change of rules changes bytes already stored or
// hashed. HTML characters (<, >, &) are never escaped.
//
// Everything here is pure and safe for concurrent use.
package jsontext
