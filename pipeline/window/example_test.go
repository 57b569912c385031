package window_test

import (
	"fmt"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/window"
)

func ExampleAggregator() {
	a, err := window.NewAggregator(manifest.Window{Name: "per_100_blocks", Module: "erc20_transfers",
		Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 100}, GroupBy: "token_address", Sum: []string{"value"}})
	if err != nil {
		panic(err)
	}
	show := func(out []window.Output, err error) {
		if err != nil {
			panic(err)
		}
		for _, o := range out {
			fmt.Printf("block %d: %s\n", o.Block, o.JSON)
		}
	}
	show(a.Add("erc20_transfers",
		window.Row{Block: 100, JSON: []byte(`{"token_address":"0xa","value":"5"}`)},
		window.Row{Block: 150, JSON: []byte(`{"token_address":"0xa","value":"7"}`)},
		window.Row{Block: 150, JSON: []byte(`{"token_address":"0xb","value":"1"}`)}))
	show(a.Advance(199, 0)) // block 199 is done: [100, 200) is complete
	show(a.Add("erc20_transfers", window.Row{Block: 230, JSON: []byte(`{"token_address":"0xa","value":"2"}`)}))
	show(a.Flush()) // the range ends at block 230: [200, 300) is incomplete
	// Output:
	// block 199: {"window":"per_100_blocks","start":100,"end":200,"unit":"blocks","group":"0xa","count":2,"sums":{"value":"12"},"complete":true}
	// block 199: {"window":"per_100_blocks","start":100,"end":200,"unit":"blocks","group":"0xb","count":1,"sums":{"value":"1"},"complete":true}
	// block 230: {"window":"per_100_blocks","start":200,"end":300,"unit":"blocks","group":"0xa","count":1,"sums":{"value":"2"},"complete":false}
}

func ExampleMatcher() {
	m, err := window.NewMatcher(manifest.Rule{Name: "quick_flip", First: "erc20_transfers", Then: "erc20_transfers", Within: 10, Key: "to_address"})
	if err != nil {
		panic(err)
	}
	_, _ = m.Add("erc20_transfers", window.Row{Block: 7, JSON: []byte(`{"to_address":"0xc","value":"1"}`)})
	out, _ := m.Add("erc20_transfers", window.Row{Block: 12, JSON: []byte(`{"to_address":"0xc", "value":"9"}`)})
	more, _ := m.Flush()
	for _, o := range append(out, more...) {
		fmt.Printf("block %d: %s\n", o.Block, o.JSON)
	}
	// Output:
	// block 12: {"rule":"quick_flip","key":"0xc","first_block":7,"then_block":12,"first":{"to_address":"0xc","value":"1"},"then":{"to_address":"0xc","value":"9"}}
}
