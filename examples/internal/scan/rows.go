package scan

// Rows holds the rows made from one document, concatenated, so that a
// mapper can check the whole document before it emits the first row. The
// zero value is empty; Reset keeps the memory for the next document.
type Rows struct {
	Buf  []byte // the rows, concatenated; a mapper appends a row here, then calls End
	Ends []int  // end offset of each row in Buf
}

// Reset empties r, keeping its memory.
func (r *Rows) Reset() { r.Buf, r.Ends = r.Buf[:0], r.Ends[:0] }

// End ends the row appended to Buf since the last one.
func (r *Rows) End() { r.Ends = append(r.Ends, len(r.Buf)) }

// Emit calls emit with each row, in order. A row is a slice of Buf whose
// capacity ends with it, valid only during the call.
func (r *Rows) Emit(emit func(row []byte)) {
	start := 0
	for _, end := range r.Ends {
		emit(r.Buf[start:end:end])
		start = end
	}
}

// Collect returns the rows mapDoc emits for doc, each in its own slice.
func Collect(doc []byte, mapDoc func(doc []byte, emit func(row []byte)) error) ([][]byte, error) {
	var out [][]byte
	err := mapDoc(doc, func(row []byte) { out = append(out, append([]byte(nil), row...)) })
	return out, err
}
