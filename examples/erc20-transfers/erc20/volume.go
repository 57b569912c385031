package erc20

// ParseRow reads one row as Map writes it (exactly that layout: the fields
// in order, compact, lowercase hex) and returns its token_address (0x-hex)
// and value (decimal digits) as slices of row. Anything else is an
// *InputError matching ErrMalformed.
func ParseRow(row []byte) (token, value []byte, err error) {
	p := newParser(row, "")
	return p.row()
}

func (p *parser) row() (token, value []byte, err error) {
	if err := p.Key(`{"token_address":`, "token_address"); err != nil {
		return nil, nil, err
	}
	at, err := p.hexN(20, "token_address")
	if err != nil {
		return nil, nil, err
	}
	token = p.B[at-2 : at+addressHex]
	if err := p.Key(`,"from_address":`, "from_address"); err != nil {
		return nil, nil, err
	}
	if _, err := p.hexN(20, "from_address"); err != nil {
		return nil, nil, err
	}
	if err := p.Key(`,"to_address":`, "to_address"); err != nil {
		return nil, nil, err
	}
	if _, err := p.hexN(20, "to_address"); err != nil {
		return nil, nil, err
	}
	if err := p.Key(`,"value":`, "value"); err != nil {
		return nil, nil, err
	}
	if value, err = p.decimal256("value"); err != nil {
		return nil, nil, err
	}
	if err := p.Key(`,"transaction_hash":`, "transaction_hash"); err != nil {
		return nil, nil, err
	}
	if _, err := p.hexN(32, "transaction_hash"); err != nil {
		return nil, nil, err
	}
	if err := p.Key(`,"log_index":`, "log_index"); err != nil {
		return nil, nil, err
	}
	if _, err := p.uint("log_index"); err != nil {
		return nil, nil, err
	}
	if err := p.Key(`,"block_number":`, "block_number"); err != nil {
		return nil, nil, err
	}
	if _, err := p.uint("block_number"); err != nil {
		return nil, nil, err
	}
	if !p.Lit("}") || p.I != len(p.B) {
		return nil, nil, p.Fail("", "expected the end of the row after block_number")
	}
	return token, value, nil
}

// Volume is the token_volume store module: given one block's rows of
// erc20_transfers, it calls write(token_address, value) for each, in order.
// Under the store's add policy (bigint values) this sums the value moved
// per token. All rows are checked before the first write: on error
// (matching ErrMalformed, naming the row) nothing is written.
func Volume(rows [][]byte, write func(key, value []byte)) error {
	for i, r := range rows {
		p := newParser(r, "rows")
		p.Elem = i
		if _, _, err := p.row(); err != nil {
			return err
		}
	}
	for _, r := range rows {
		token, value, _ := ParseRow(r)
		write(token, value)
	}
	return nil
}
