// Package window runs a pipeline manifest's windows and complex-event rules
// over map modules' output rows, in block order.
//
// An [Aggregator] computes one manifest.Window: tumbling or sliding
// windows over block numbers or block time (whole seconds), aligned to
// multiples of the step from block 0 or the unix epoch, so a window's
// bounds never depend on where a run starts. Each window counts its rows
// and, optionally, sums integer fields exactly (JSON integers or decimal
// strings, as big integers), per value of a group_by field:
//
//	{"window":"hourly_volume","start":1682899200,"end":1682902800,"unit":"seconds",
//	 "group":"0xdac17f958d2ee523a2206206994597c13d831ec7","count":41,"sums":{"value":"912000000"},"complete":true}
//
// ("group" only with group_by, "sums" only with sum; one line in
// practice.) start is inclusive, end exclusive. A window's results come out
// once the stream has passed its end; [Aggregator.Flush] at the end of a
// range emits the windows still holding rows with "complete": false, and so
// does any window starting before the run's first block: the counts and
// sums of one window's results from consecutive runs add up to the whole.
// Windows without rows give no result.
//
// A [Matcher] detects one manifest.Rule: a First row, then a Then row at
// most Within blocks later with the same key. Each Then row matches the
// most recent earlier First row with its key (see [Matcher] for "earlier"):
//
//	{"rule":"quick_flip","key":"0xab…","first_block":17173049,"then_block":17173052,
//	 "first":{…the First row…},"then":{…the Then row…}}
//
// Both take rows with Add(module, rows...), block positions with
// Advance(block, time) — "every row up to this block has been added",
// best called once per block so that results come out as soon as they are
// known — and Flush() at the end of a range. Every [Output] carries the
// block under which a sink files it, so that undoing a block removes what
// it produced. Output bytes depend only on the rows and positions given,
// never on how rows are split between calls. Clone copies an Aggregator
// or Matcher part-way through: the copy continues exactly as the original
// would, and neither sees what the other is fed afterwards (a live run
// keeps such copies to go back to when a chain reorganisation undoes
// blocks). Malformed rows are
// errors naming the module, block and row ([RowError]); nothing panics on
// row input.
//
// The package is pure: no I/O, no goroutines, no clock. An Aggregator or
// Matcher is not safe for concurrent use.
package window
