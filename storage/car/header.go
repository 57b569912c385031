package car

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	cid "github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-varint"
)

// encodeHeader returns the CARv1 header section (length prefix included)
// for roots: the dag-cbor map {"roots": [...], "version": 1}.
func encodeHeader(roots []cid.Cid) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "roots", qp.List(int64(len(roots)), func(la datamodel.ListAssembler) {
			for _, r := range roots {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: r}))
			}
		}))
		qp.MapEntry(ma, "version", qp.Int(1))
	})
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := dagcbor.Encode(n, &body); err != nil {
		return nil, err
	}
	out := varint.ToUvarint(uint64(body.Len()))
	return append(out, body.Bytes()...), nil
}

// header is a decoded CAR header section.
type header struct {
	version uint64
	roots   []cid.Cid
}

// decodeHeader parses a header body: a dag-cbor map with an integer
// "version" and, for version 1, a "roots" list of links. Other keys are
// ignored.
func decodeHeader(body []byte) (header, error) {
	var h header
	nb := basicnode.Prototype.Any.NewBuilder()
	opts := dagcbor.DecodeOptions{AllowLinks: true, RelaxedDecode: true, MaxDepth: 16}
	if err := opts.Decode(nb, bytes.NewReader(body)); err != nil {
		return h, fmt.Errorf("header is not dag-cbor: %w", err)
	}
	n := nb.Build()
	if n.Kind() != datamodel.Kind_Map {
		return h, fmt.Errorf("header is a %s, not a map", n.Kind())
	}
	vn, err := n.LookupByString("version")
	if err != nil {
		return h, errors.New("header has no version")
	}
	v, err := vn.AsInt()
	if err != nil || v < 0 {
		return h, errors.New("header version is not a positive integer")
	}
	h.version = uint64(v)
	if h.version != 1 {
		return h, nil // CARv2 pragma: roots are in the inner header
	}
	rn, err := n.LookupByString("roots")
	if err != nil {
		return h, errors.New("header has no roots")
	}
	if rn.Kind() != datamodel.Kind_List {
		return h, fmt.Errorf("header roots is a %s, not a list", rn.Kind())
	}
	it := rn.ListIterator()
	for !it.Done() {
		i, e, err := it.Next()
		if err != nil {
			return h, err
		}
		l, err := e.AsLink()
		if err != nil {
			return h, fmt.Errorf("header root %d is a %s, not a link", i, e.Kind())
		}
		cl, ok := l.(cidlink.Link)
		if !ok || !cl.Cid.Defined() {
			return h, fmt.Errorf("header root %d is not a valid cid", i)
		}
		h.roots = append(h.roots, cl.Cid)
	}
	return h, nil
}

// writeSection writes one CAR block section: varint(len(cid)+len(data)),
// cid bytes, data.
func writeSection(w io.Writer, c cid.Cid, data []byte) error {
	cb := c.Bytes()
	var pre [varint.MaxLenUvarint63]byte
	n := varint.PutUvarint(pre[:], uint64(len(cb)+len(data)))
	if _, err := w.Write(pre[:n]); err != nil {
		return err
	}
	if _, err := w.Write(cb); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}
