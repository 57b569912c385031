package source

// The shared fixtures, for the tests in package source_test: those use
// package sourcetest, which imports this package, so they cannot be in it.
var (
	Fixture     = fixture
	ReadFixture = readFixture
	ETLFixture  = etlFixture
	ResultOf    = resultOf
)

// Fixture directories, for package source_test.
const (
	SmallEth   = smallEth
	LargeEth   = largeEth
	SolTxDir   = solTxDir
	SolSlotDir = solSlotDir
)
